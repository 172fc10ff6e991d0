//! An invitation's state at a moment, and whether it can be accepted.

use chrono::{DateTime, Utc};

use crate::model::Invitation;
use crate::validate;

/// Where an invitation stands at a given time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InvitationState {
    Pending,
    Accepted,
    Revoked,
    Expired,
}

impl InvitationState {
    /// The wire name (`PENDING`, `ACCEPTED`, `REVOKED`, `EXPIRED`).
    pub fn as_str(self) -> &'static str {
        match self {
            InvitationState::Pending => "PENDING",
            InvitationState::Accepted => "ACCEPTED",
            InvitationState::Revoked => "REVOKED",
            InvitationState::Expired => "EXPIRED",
        }
    }
}

/// Why an invitation cannot be accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvitationRefusal {
    /// Accepted or revoked already (410).
    #[error("the invitation was already used or revoked")]
    Used,
    /// Past its expiry (410).
    #[error("the invitation has expired")]
    Expired,
    /// Addressed to another email than the accepting account's (403).
    #[error("the invitation is for another email")]
    OtherEmail,
}

impl Invitation {
    /// The invitation's state at `now`: used or revoked first, then expiry.
    pub fn state_at(&self, now: DateTime<Utc>) -> InvitationState {
        if self.accepted_at.is_some() {
            InvitationState::Accepted
        } else if self.revoked_at.is_some() {
            InvitationState::Revoked
        } else if self.expires_at <= now {
            InvitationState::Expired
        } else {
            InvitationState::Pending
        }
    }

    /// Whether the invitation can still be looked up or accepted at `now`.
    pub fn usable_at(&self, now: DateTime<Utc>) -> Result<(), InvitationRefusal> {
        match self.state_at(now) {
            InvitationState::Pending => Ok(()),
            InvitationState::Accepted | InvitationState::Revoked => Err(InvitationRefusal::Used),
            InvitationState::Expired => Err(InvitationRefusal::Expired),
        }
    }

    /// Whether the account with `email` may accept it at `now`.
    pub fn acceptable_by(&self, email: &str, now: DateTime<Utc>) -> Result<(), InvitationRefusal> {
        self.usable_at(now)?;
        if validate::email_key(&self.email) != validate::email_key(email) {
            return Err(InvitationRefusal::OtherEmail);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use chrono::Duration;
    use uuid::Uuid;

    use super::*;
    use crate::model::{AccountType, TenantRole};

    fn invitation(now: DateTime<Utc>) -> Invitation {
        Invitation {
            id: Uuid::nil(),
            tenant: "acme".into(),
            email: "Ana@Example.com".into(),
            tenant_role: TenantRole::Access,
            account_type: AccountType::Regular,
            created_at: now,
            expires_at: now + Duration::days(7),
            accepted_at: None,
            revoked_at: None,
        }
    }

    #[test]
    fn states_in_order() {
        let now = Utc::now();
        let mut i = invitation(now);
        assert_eq!(i.state_at(now), InvitationState::Pending);
        assert_eq!(
            i.state_at(now + Duration::days(7)),
            InvitationState::Expired
        );
        i.revoked_at = Some(now);
        assert_eq!(
            i.state_at(now + Duration::days(8)),
            InvitationState::Revoked
        );
        i.accepted_at = Some(now);
        assert_eq!(i.state_at(now), InvitationState::Accepted);
    }

    #[test]
    fn acceptance() {
        let now = Utc::now();
        let i = invitation(now);
        assert_eq!(i.acceptable_by("ana@example.COM", now), Ok(()));
        assert_eq!(
            i.acceptable_by("bob@example.com", now),
            Err(InvitationRefusal::OtherEmail)
        );
        assert_eq!(
            i.acceptable_by("ana@example.com", now + Duration::days(8)),
            Err(InvitationRefusal::Expired)
        );
    }
}
