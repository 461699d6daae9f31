//! Whether a registration of an app is taken, and what it fixes.
//!
//! The first accepted registration fixes the app's owner and billing time
//! zone (its own `timeZone`, or the deployment's default). A later one for
//! the same owner, naming the same zone (or a link to it) or none, changes
//! nothing but a missing name; another owner or another zone is refused and
//! nothing of it is applied. An app registered before zones existed is in
//! `UTC`.

use super::ids::{AccountId, Name};
use super::zone::BillingZone;

/// What a registration event asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RegistrationRequest {
    pub owner: AccountId,
    pub name: Option<Name>,
    pub zone: Option<BillingZone>,
}

/// A registration as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RegistrationState {
    pub owner: AccountId,
    pub name: Option<Name>,
    pub zone: BillingZone,
    /// Usage counted before the registration is in its zone's place, and
    /// the app shows in answers.
    pub open: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    /// The first registration: store this (not open yet).
    Claim(RegistrationState),
    /// Accepted, nothing fixed changes; `name` is set if the app has none.
    Keep {
        name: Option<Name>,
    },
    OwnedByAnother,
    /// The app's zone is another: the zone first fixed.
    OtherZone(BillingZone),
}

pub fn decide(
    existing: Option<&RegistrationState>,
    request: &RegistrationRequest,
    default_zone: &BillingZone,
) -> Decision {
    let Some(existing) = existing else {
        return Decision::Claim(RegistrationState {
            owner: request.owner.clone(),
            name: request.name.clone(),
            zone: request.zone.clone().unwrap_or_else(|| default_zone.clone()),
            open: false,
        });
    };
    if existing.owner != request.owner {
        return Decision::OwnedByAnother;
    }
    if let Some(zone) = &request.zone
        && !zone.same_zone(&existing.zone)
    {
        return Decision::OtherZone(existing.zone.clone());
    }
    Decision::Keep {
        name: if existing.name.is_none() {
            request.name.clone()
        } else {
            None
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn zone(name: &str) -> BillingZone {
        BillingZone::parse(name).unwrap()
    }

    fn request(owner: &str, zone_name: Option<&str>, name: Option<&str>) -> RegistrationRequest {
        RegistrationRequest {
            owner: AccountId::parse(owner).unwrap(),
            name: name.map(|n| Name::parse(n).unwrap()),
            zone: zone_name.map(zone),
        }
    }

    fn stored(owner: &str, zone_name: &str, name: Option<&str>) -> RegistrationState {
        RegistrationState {
            owner: AccountId::parse(owner).unwrap(),
            name: name.map(|n| Name::parse(n).unwrap()),
            zone: zone(zone_name),
            open: true,
        }
    }

    const A: &str = "111122223333";
    const B: &str = "444455556666";

    #[test]
    fn the_first_registration_fixes_its_zone_or_the_default() {
        let shanghai = zone("Asia/Shanghai");
        match decide(None, &request(A, None, Some("x")), &shanghai) {
            Decision::Claim(state) => {
                assert_eq!(state.zone, shanghai);
                assert!(!state.open);
            }
            other => panic!("{other:?}"),
        }
        match decide(
            None,
            &request(A, Some("Asia/Calcutta"), None),
            &BillingZone::utc(),
        ) {
            Decision::Claim(state) => assert_eq!(state.zone.name(), "Asia/Calcutta"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn later_registrations_keep_the_zone_first_fixed() {
        let utc = BillingZone::utc();
        let kolkata = stored(A, "Asia/Kolkata", None);
        for same in [None, Some("Asia/Kolkata"), Some("Asia/Calcutta")] {
            assert_eq!(
                decide(Some(&kolkata), &request(A, same, Some("n")), &utc),
                Decision::Keep {
                    name: Some(Name::parse("n").unwrap())
                },
                "{same:?}"
            );
        }
        assert_eq!(
            decide(
                Some(&kolkata),
                &request(A, Some("Asia/Kathmandu"), None),
                &utc
            ),
            Decision::OtherZone(zone("Asia/Kolkata"))
        );
        // An app registered before zones: UTC, whatever the default now.
        let legacy = stored(A, "UTC", Some("old"));
        assert_eq!(
            decide(
                Some(&legacy),
                &request(A, None, Some("new")),
                &zone("Asia/Tokyo")
            ),
            Decision::Keep { name: None }
        );
        assert_eq!(
            decide(Some(&legacy), &request(A, Some("Asia/Tokyo"), None), &utc),
            Decision::OtherZone(utc.clone())
        );
        assert_eq!(
            decide(Some(&legacy), &request(B, None, None), &utc),
            Decision::OwnedByAnother
        );
    }
}
