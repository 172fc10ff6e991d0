//! Whether a user may act at all, and whether it may sign in.

use crate::model::{TenantRole, UserStatus};

/// Whether a user may act: active and not blocked from the tenant. A user
/// that may not act holds no permission and its credentials stop working.
pub fn may_act(status: UserStatus, tenant_role: Option<TenantRole>) -> bool {
    status == UserStatus::Active && tenant_role != Some(TenantRole::Blocked)
}

/// Why a user whose password matched may still not sign in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SignInRefusal {
    #[error("the user is inactive")]
    Inactive,
    #[error("the user is blocked from this tenant")]
    Blocked,
    #[error("the user has no tenant role")]
    NoTenantRole,
}

/// Whether a user may sign in on a device (seed 003): it may act and holds
/// a tenant role (SPEC §7: a user without one cannot sign in on a device).
pub fn may_sign_in_on_device(
    status: UserStatus,
    tenant_role: Option<TenantRole>,
) -> Result<(), SignInRefusal> {
    if status == UserStatus::Inactive {
        return Err(SignInRefusal::Inactive);
    }
    match tenant_role {
        Some(TenantRole::Blocked) => Err(SignInRefusal::Blocked),
        None => Err(SignInRefusal::NoTenantRole),
        Some(_) => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_active_unblocked_users_act() {
        assert!(may_act(UserStatus::Active, None));
        assert!(may_act(UserStatus::Active, Some(TenantRole::Access)));
        assert!(!may_act(UserStatus::Inactive, Some(TenantRole::Admin)));
        assert!(!may_act(UserStatus::Active, Some(TenantRole::Blocked)));
    }

    #[test]
    fn device_sign_in_needs_a_tenant_role() {
        assert_eq!(
            may_sign_in_on_device(UserStatus::Active, None),
            Err(SignInRefusal::NoTenantRole)
        );
        assert_eq!(
            may_sign_in_on_device(UserStatus::Active, Some(TenantRole::Blocked)),
            Err(SignInRefusal::Blocked)
        );
        assert_eq!(
            may_sign_in_on_device(UserStatus::Inactive, Some(TenantRole::Access)),
            Err(SignInRefusal::Inactive)
        );
        assert_eq!(
            may_sign_in_on_device(UserStatus::Active, Some(TenantRole::Access)),
            Ok(())
        );
    }
}
