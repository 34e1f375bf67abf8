//! The signing keys of local actors and of the instance actor (Mastodon's `/actor`): made the
//! first time one is needed (RSA-2048, through the federation port), kept in the database, and
//! remembered in memory.

use ferrodon_domain::model::Account;
use ferrodon_domain::ports::SigningKey;
use ferrodon_kernel::{Error, Id, Result};

use crate::{Services, lock};

/// Where the instance actor's private key is kept.
const INSTANCE_KEY_SETTING: &str = "instance_actor_private_key";

/// The cache key of the instance actor (no account has id 0).
const INSTANCE: Id = Id(0);

/// The instance actor's URI.
pub fn instance_actor_uri(svc: &Services) -> String {
    format!("{}/actor", svc.base_url())
}

/// The key id of a local account's key (what other servers fetch to verify its signatures).
pub fn key_id(account: &Account) -> String {
    format!("{}#main-key", account.uri)
}

/// A local account's signing key, made and stored the first time it is needed.
pub async fn of_account(svc: &Services, account: &Account) -> Result<SigningKey> {
    if let Some(k) = lock(&svc.state.keys).get(&account.id) {
        return Ok(k.clone());
    }
    let stored = svc.db.read().await?.private_key(account.id).await?;
    let private_pem = match stored {
        Some(pem) => pem,
        None => {
            let pair = svc.fediverse()?.generate_keys().await?;
            let mut tx = svc.db.write().await?;
            let pem = if tx.store_keys(account.id, &key_id(account), &pair.public_pem, &pair.private_pem).await? {
                pair.private_pem
            } else {
                // Another request made one first: that one it is.
                tx.private_key(account.id).await?.ok_or_else(|| Error::internal("the key vanished"))?
            };
            tx.commit().await?;
            pem
        }
    };
    let key = SigningKey { key_id: key_id(account), private_pem };
    lock(&svc.state.keys).insert(account.id, key.clone());
    Ok(key)
}

/// A local account's public key (PEM), made with its private key when it has none yet.
pub async fn public_key_pem(svc: &Services, account: &Account) -> Result<String> {
    if !account.public_key_pem.is_empty() {
        return Ok(account.public_key_pem.clone());
    }
    of_account(svc, account).await?;
    let fresh = svc.db.read().await?.account_by_id(account.id).await?.ok_or_else(Error::not_found)?;
    Ok(fresh.public_key_pem)
}

/// The instance actor's key, with which fetches and reports are signed.
pub async fn instance(svc: &Services) -> Result<SigningKey> {
    if let Some(k) = lock(&svc.state.keys).get(&INSTANCE) {
        return Ok(k.clone());
    }
    let stored = svc.db.read().await?.setting(INSTANCE_KEY_SETTING).await?;
    let private_pem = match stored {
        Some(pem) => pem,
        None => {
            let pair = svc.fediverse()?.generate_keys().await?;
            let mut tx = svc.db.write().await?;
            // Another process may have made one meanwhile: the first one stored wins.
            let pem = match tx.setting(INSTANCE_KEY_SETTING).await? {
                Some(pem) => pem,
                None => {
                    tx.set_setting(INSTANCE_KEY_SETTING, &pair.private_pem).await?;
                    pair.private_pem
                }
            };
            tx.commit().await?;
            pem
        }
    };
    let key = SigningKey { key_id: format!("{}#main-key", instance_actor_uri(svc)), private_pem };
    lock(&svc.state.keys).insert(INSTANCE, key.clone());
    Ok(key)
}
