//! `POST /inbox` and `POST /users/:name/inbox`: the signature is checked while the request waits
//! (401 when it is missing or wrong, and nothing is kept), the activity is read into a typed
//! [`ferrodon_domain::model::Activity`], and the service keeps it on `ingress`
//! ([`ferrodon_service::inbox::accept`]) before the request is answered 202.

use std::time::SystemTime;

use ferrodon_domain::model::{Account, Activity};
use ferrodon_service::{domains, inbox, outbox, remote};

use crate::protocol::{authority, read_activity};
use crate::signatures::{self, Incoming, PublicKey};
use crate::{CachedKey, Federation, SIGNER_TTL, Signer, lock};

/// The largest activity accepted.
pub const MAX_ACTIVITY: usize = 1024 * 1024;

/// Why an inbox request was refused.
#[derive(Debug)]
pub enum Refused {
    /// 401: no signature, a bad one, or a key we could not get.
    Unauthorized(String),
    /// 400: not an activity.
    BadRequest(String),
    /// 403: a blocked domain, or a signer speaking for another actor.
    Forbidden(String),
    /// 503: the activity could not be kept (the database is unavailable); the sender retries.
    Unavailable(String),
}

impl Federation {
    /// Verifies an inbox request and has the service keep its activity. `Ok` means 202.
    pub async fn receive(&self, req: Incoming<'_>) -> std::result::Result<(), Refused> {
        let now = SystemTime::now();
        let sig = signatures::parse(&req, now).map_err(|e| Refused::Unauthorized(e.to_string()))?;
        if domains::refuses(&self.svc, &sig.key_id).await.unwrap_or(false) {
            return Err(Refused::Forbidden("this domain may not federate with this server".into()));
        }
        let (actor_uri, activity) =
            read_activity(req.body.unwrap_or_default()).map_err(|e| Refused::BadRequest(e.message))?;
        // An actor deleting itself can no longer be fetched: accept and forget (Mastodon does).
        let self_delete = matches!(&activity, Activity::Delete { object } if *object == actor_uri);
        let signer = match self.verify(&sig).await {
            Ok(a) => a,
            Err(_) if self_delete => return Ok(()),
            Err(e) => return Err(Refused::Unauthorized(e)),
        };
        if signer.uri != actor_uri {
            return Err(Refused::Forbidden(format!("{} may not speak for {actor_uri}", signer.uri)));
        }
        if signer.suspended {
            return Err(Refused::Forbidden("this account is suspended here".into()));
        }
        inbox::accept(&self.svc, signer.id, activity).await.map_err(|e| Refused::Unavailable(e.message))?;
        // The domain answered us: deliveries to it resume.
        if let Some(domain) = authority(&signer.uri) {
            outbox::domain_answered(&self.svc, &domain).await;
        }
        Ok(())
    }

    /// The account whose key made `sig`, fetching (or fetching again: keys rotate) it when
    /// needed. A key verified recently needs no database read.
    pub async fn verify(&self, sig: &signatures::Signature) -> std::result::Result<Signer, String> {
        let cached = lock(&self.remote_keys).get(&sig.key_id).cloned();
        if let Some(c) = &cached
            && c.loaded.elapsed() < SIGNER_TTL
            && sig.verify(&c.key).is_ok()
        {
            return Ok(c.signer.clone());
        }
        if let Ok(Some(a)) = remote::key_owner(&self.svc, &sig.key_id).await
            && let Ok(key) = PublicKey::from_pem(&a.public_key_pem)
            && sig.verify(&key).is_ok()
        {
            return Ok(self.remember_key(&sig.key_id, &a, key));
        }
        // Unknown, or the key changed: fetch the actor again.
        let account =
            remote::refresh_account(&self.svc, &sig.key_id).await.map_err(|e| format!("could not get the key: {e}"))?;
        let key = PublicKey::from_pem(&account.public_key_pem).map_err(|e| format!("the actor's key: {e}"))?;
        sig.verify(&key).map_err(|e| e.to_string())?;
        Ok(self.remember_key(&sig.key_id, &account, key))
    }

    fn remember_key(&self, key_id: &str, a: &Account, key: PublicKey) -> Signer {
        let signer = Signer { id: a.id, uri: a.uri.clone(), suspended: a.suspended_at.is_some() };
        let entry = CachedKey { signer: signer.clone(), key, loaded: std::time::Instant::now() };
        lock(&self.remote_keys).insert(key_id.to_string(), entry);
        signer
    }
}
