//! Mail: the service's [`Mailer`] port. A mail is rendered from its templates
//! (`templates/mail.txt` and `templates/mail.html`, one multipart/alternative message) and sent
//! through an SMTP relay ([`SmtpMailer`], Mastodon's `SMTP_*` variables), or, on a server
//! without one, written to the log with its links ([`LogMailer`]).

use std::time::Duration;

use askama::Template;
use async_trait::async_trait;
use ferrodon_config::{SmtpAuth, SmtpConfig, SmtpTls};
use ferrodon_domain::model::{Mail, MailMessage};
use ferrodon_domain::ports::Mailer;
use ferrodon_kernel::{Error, Result};
use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::transport::smtp::extension::ClientId;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

/// How long one conversation with the relay may take.
const SMTP_TIMEOUT: Duration = Duration::from_secs(30);

/// What sends this server's mail: the relay `SMTP_SERVER` names, or the log without one.
pub fn mailer(config: &ferrodon_config::Config) -> Result<std::sync::Arc<dyn Mailer>> {
    Ok(match &config.smtp {
        Some(smtp) => std::sync::Arc::new(SmtpMailer::new(smtp)?),
        None => std::sync::Arc::new(LogMailer),
    })
}

/// A mail as it is sent: its subject and its two bodies.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rendered {
    pub subject: String,
    pub text: String,
    pub html: String,
}

#[derive(Template)]
#[template(path = "mail.txt", escape = "none")]
struct TextBody<'a> {
    mail: &'a Mail,
}

#[derive(Template)]
#[template(path = "mail.html")]
struct HtmlBody<'a> {
    mail: &'a Mail,
    subject: &'a str,
}

/// The subject line of `mail` (Mastodon's wording, with the instance's name first).
pub fn subject(mail: &Mail) -> String {
    let what = match &mail.message {
        MailMessage::ConfirmEmail { .. } => "Confirm your e-mail address",
        MailMessage::ResetPassword { .. } => "Reset password instructions",
        MailMessage::PasswordChanged => "Password changed",
        MailMessage::EmailChanged { .. } => "E-mail address being changed",
        MailMessage::TwoFactorEnabled => "Two-factor authentication enabled",
        MailMessage::TwoFactorDisabled => "Two-factor authentication disabled",
        MailMessage::AccountApproved => "Your account was approved",
        MailMessage::NewPendingAccount { .. } => "New account up for review",
        MailMessage::NewReport { .. } => "New report",
    };
    format!("{}: {what}", mail.instance)
}

/// `mail` as text and HTML.
pub fn render(mail: &Mail) -> Result<Rendered> {
    let subject = subject(mail);
    let text = TextBody { mail }.render().map_err(Error::internal)?;
    let html = HtmlBody { mail, subject: &subject }.render().map_err(Error::internal)?;
    Ok(Rendered { subject, text, html })
}

/// Mail through an SMTP relay.
pub struct SmtpMailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    reply_to: Option<Mailbox>,
    description: String,
}

impl SmtpMailer {
    pub fn new(c: &SmtpConfig) -> Result<SmtpMailer> {
        let bad = |what: &str, e: &dyn std::fmt::Display| Error::validation(format!("{what}: {e}"));
        let mut params =
            TlsParameters::builder(c.server.clone()).dangerous_accept_invalid_certs(!c.verify_certificates);
        if let Some(path) = &c.ca_file {
            let pem = std::fs::read(path).map_err(|e| bad(&format!("SMTP_CA_FILE {}", path.display()), &e))?;
            params = params.add_root_certificate(Certificate::from_pem(&pem).map_err(|e| bad("SMTP_CA_FILE", &e))?);
        }
        let params = params.build_rustls().map_err(|e| bad("SMTP TLS", &e))?;
        let (tls, how) = match c.tls {
            SmtpTls::Implicit => (Tls::Wrapper(params), "TLS"),
            SmtpTls::StartTls => (Tls::Required(params), "STARTTLS"),
            SmtpTls::StartTlsWhenOffered => (Tls::Opportunistic(params), "STARTTLS when offered"),
            SmtpTls::None => (Tls::None, "no TLS"),
        };
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&c.server)
            .port(c.port)
            .tls(tls)
            .hello_name(ClientId::Domain(c.helo_domain.clone()))
            .timeout(Some(SMTP_TIMEOUT));
        if let Some((login, password)) = &c.credentials {
            let mechanism = match c.auth_method {
                SmtpAuth::Plain => Mechanism::Plain,
                SmtpAuth::Login => Mechanism::Login,
            };
            builder =
                builder.credentials(Credentials::new(login.clone(), password.clone())).authentication(vec![mechanism]);
        }
        let from: Mailbox = c.from.parse().map_err(|e| bad("SMTP_FROM_ADDRESS", &e))?;
        let reply_to = match &c.reply_to {
            Some(r) => Some(r.parse().map_err(|e| bad("SMTP_REPLY_TO", &e))?),
            None => None,
        };
        Ok(SmtpMailer {
            transport: builder.build(),
            from,
            reply_to,
            description: format!("smtp://{}:{} ({how})", c.server, c.port),
        })
    }

    fn message(&self, mail: &Mail) -> Result<Message> {
        let rendered = render(mail)?;
        // A bare address only (never a display name or angle brackets read from it).
        let address: lettre::Address =
            mail.to.parse().map_err(|e| Error::validation(format!("bad address {:?}: {e}", mail.to)))?;
        let to = Mailbox::new(None, address);
        let mut builder = Message::builder().from(self.from.clone()).to(to).subject(rendered.subject);
        if let Some(r) = &self.reply_to {
            builder = builder.reply_to(r.clone());
        }
        builder.multipart(MultiPart::alternative_plain_html(rendered.text, rendered.html)).map_err(Error::internal)
    }
}

#[async_trait]
impl Mailer for SmtpMailer {
    async fn send(&self, mail: &Mail) -> Result<()> {
        let message = self.message(mail)?;
        match self.transport.send(message).await {
            Ok(_) => Ok(()),
            // The relay will not take mail from us as we are set up (authentication needed or
            // refused): ours to fix, so the mail waits, retried and then kept in the dead set.
            Err(e) if e.status().is_some_and(|c| matches!(c.to_string().as_str(), "530" | "534" | "535" | "538")) => {
                Err(Error::unavailable(format!("{}: {e}", self.description)))
            }
            // Refused for good otherwise (a mailbox that does not exist): asking again would not
            // change its mind.
            Err(e) if e.is_permanent() => Err(Error::validation(format!("{}: {e}", self.description))),
            Err(e) => Err(Error::unavailable(format!("{}: {e}", self.description))),
        }
    }

    fn describe(&self) -> String {
        self.description.clone()
    }
}

/// Mail written to the log (a server without `SMTP_SERVER`): an admin reads the links there.
pub struct LogMailer;

#[async_trait]
impl Mailer for LogMailer {
    async fn send(&self, mail: &Mail) -> Result<()> {
        let rendered = render(mail)?;
        tracing::info!(
            to = %mail.to,
            subject = %rendered.subject,
            link = mail.message.link().unwrap_or("none"),
            "mail not sent (SMTP_SERVER is not set)"
        );
        Ok(())
    }

    fn describe(&self) -> String {
        "off: mails are written to the log (set SMTP_SERVER to send them)".into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mail(message: MailMessage) -> Mail {
        Mail {
            to: "alice@example.com".into(),
            username: "alice".into(),
            locale: "en".into(),
            instance: "Crab <Social>".into(),
            base_url: "https://crab.example".into(),
            message,
        }
    }

    #[test]
    fn every_mail_renders_as_text_and_escaped_html() {
        let link = "https://crab.example/auth/confirmation?confirmation_token=a&b=<c>".to_string();
        let r = render(&mail(MailMessage::ConfirmEmail { link: link.clone(), new_address: false })).unwrap();
        assert_eq!(r.subject, "Crab <Social>: Confirm your e-mail address");
        assert!(r.text.contains(&link) && r.text.contains("Thank you for signing up to Crab <Social>"), "{}", r.text);
        assert!(
            r.html.contains("href=\"https://crab.example/auth/confirmation?confirmation_token=a&#38;b=&#60;c&#62;\"")
                || r.html.contains("confirmation_token=a&amp;b=&lt;c&gt;"),
            "{}",
            r.html
        );
        assert!(r.html.contains("Crab &#60;Social&#62;") || r.html.contains("Crab &lt;Social&gt;"), "{}", r.html);
        assert!(!r.html.contains("<Social>"));
        for m in [
            MailMessage::ConfirmEmail { link: "https://x/1".into(), new_address: true },
            MailMessage::ResetPassword { link: "https://x/2".into() },
            MailMessage::PasswordChanged,
            MailMessage::EmailChanged { new_email: "new@example.com".into() },
            MailMessage::TwoFactorEnabled,
            MailMessage::TwoFactorDisabled,
            MailMessage::AccountApproved,
            MailMessage::NewPendingAccount {
                username: "newbie".into(),
                email: "n@example.com".into(),
                reason: "I <3 crabs".into(),
            },
            MailMessage::NewReport {
                reporter: "a".into(),
                target: "b@remote.example".into(),
                category: "spam".into(),
                comment: "ads".into(),
            },
        ] {
            let r = render(&mail(m)).unwrap();
            assert!(r.text.starts_with("Hello alice,") && r.html.contains("Hello alice,"), "{}", r.text);
            assert!(!r.text.contains("{%") && !r.html.contains("{%"));
        }
    }
}
