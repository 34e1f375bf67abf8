//! Mail sent from the `mailers` queue (Mastodon's `ActionMailer::MailDeliveryJob`): the mail is
//! the job's payload, written in the transaction of the change it tells of.

use std::sync::Arc;

use async_trait::async_trait;
use ferrodon_domain::model::{Job, Mail, Queue};
use ferrodon_domain::ports::{JobContext, JobHandler, RetryPolicy, Tx};
use ferrodon_kernel::{Error, ErrorKind, Result};

use crate::Services;

pub fn handlers(svc: &Services) -> Vec<(&'static str, RetryPolicy, Arc<dyn JobHandler>)> {
    vec![(DeliverMail::KIND, DeliverMail::POLICY, Arc::new(DeliverMail { svc: svc.clone() }) as Arc<dyn JobHandler>)]
}

/// Sends one mail through the mailer port. A relay that cannot be reached, or refuses for now,
/// is asked again with backoff; a refusal that would be repeated (a bad address) is logged
/// and the job is done.
pub struct DeliverMail {
    svc: Services,
}

impl DeliverMail {
    pub const KIND: &'static str = "DeliverMail";
    /// About seven hours of retries with the runner's backoff (a reset link lasts six); then the
    /// dead set keeps the mail for an admin to retry.
    const POLICY: RetryPolicy = RetryPolicy { max_attempts: 12, keep_dead: true };

    pub(crate) async fn enqueue(tx: &mut Box<dyn Tx>, mail: &Mail) -> Result<()> {
        let payload = serde_json::to_value(mail).map_err(Error::internal)?;
        super::enqueue(tx, Queue::Mailers, Self::KIND, &payload, Self::POLICY).await.map(|_| ())
    }
}

#[async_trait]
impl JobHandler for DeliverMail {
    async fn run(&self, _ctx: &JobContext, job: &Job) -> Result<()> {
        let mail: Mail = super::payload(job)?;
        match self.svc.mailer()?.send(&mail).await {
            Ok(()) => {
                tracing::info!(kind = mail.message.kind(), "mail sent");
                Ok(())
            }
            Err(e) if e.kind == ErrorKind::Validation => {
                tracing::warn!(kind = mail.message.kind(), error = %e.message, "mail refused; not retried");
                Ok(())
            }
            Err(e) => Err(e),
        }
    }
}
