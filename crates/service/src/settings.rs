//! Instance settings an admin changes at run time (`ferrodon settings …`), with the
//! configuration's values as defaults.

use ferrodon_config::RegistrationsMode;
use ferrodon_domain::ports::Tx;
use ferrodon_kernel::{Error, Result};

use crate::Services;

const REGISTRATIONS_MODE: &str = "registrations_mode";

/// Who may sign up (see [`registrations_mode`]).
pub async fn current_registrations_mode(svc: &Services) -> Result<RegistrationsMode> {
    registrations_mode(svc, &mut svc.db.read().await?).await
}

/// Who may sign up: the admin setting, or `FERRODON_REGISTRATIONS` until one is made.
/// Single-user mode closes registrations whatever the setting.
pub(crate) async fn registrations_mode(svc: &Services, tx: &mut Box<dyn Tx>) -> Result<RegistrationsMode> {
    if svc.config.single_user_mode {
        return Ok(RegistrationsMode::None);
    }
    Ok(tx
        .setting(REGISTRATIONS_MODE)
        .await?
        .and_then(|v| RegistrationsMode::parse(&v))
        .unwrap_or(svc.config.registrations_mode))
}

pub async fn set_registrations_mode(svc: &Services, mode: &str) -> Result<RegistrationsMode> {
    let mode = RegistrationsMode::parse(mode).ok_or_else(|| {
        Error::validation(format!("registrations must be open, approved or none (or close), got {mode:?}"))
    })?;
    let mut tx = svc.db.write().await?;
    tx.set_setting(REGISTRATIONS_MODE, mode.as_str()).await?;
    tx.commit().await?;
    Ok(mode)
}
