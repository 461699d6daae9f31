//! App registrations: one item per app (`REGISTRATION` in the app's
//! partition). The first accepted registration writes its owner as
//! `claim_owner`, its billing time zone and any name; once the app's parked
//! usage is counted, `owner_account` is set from `claim_owner`, and only
//! then do answers (and the `AppsByOwner` index, keyed by `owner_account`)
//! see the app. An item written before zones existed has `owner_account`
//! and no zone: it is open, in UTC. The trait implementation in `mod.rs`
//! delegates here.

use super::DynamoStore;
use super::error::{built, classify};
use super::item::{Item, UpdateExpr, get_s, s};
use super::keys::*;
use super::{BATCH_GET_LIMIT, Zones};
use crate::domain::ids::{AccountId, AppId, Name};
use crate::domain::registration::{Decision, RegistrationRequest, RegistrationState, decide};
use crate::domain::zone::BillingZone;
use crate::store::{RegisterOutcome, Registration, StoreError, StoreResult};
use aws_sdk_dynamodb::types::{ConditionCheck, KeysAndAttributes, TransactWriteItem};

/// The account the app is open to; the key of the `AppsByOwner` index, so
/// only open registrations carry it.
pub const OWNER: &str = "owner_account";
/// The account the first accepted registration named, set before the app
/// is open.
pub const CLAIM_OWNER: &str = "claim_owner";
/// The app's billing time zone, as first named.
pub const TIME_ZONE: &str = "time_zone";
/// The app's name, set by the first registration that carries one.
pub const APP_NAME: &str = "app_name";

/// How often a registration is read and written again when another
/// registration of the same app wrote in between.
const REGISTER_ATTEMPTS: usize = 3;

/// The registration an item holds, if it holds one.
fn state_of(item: &Item) -> StoreResult<Option<RegistrationState>> {
    let open = get_s(item, OWNER);
    let Some(owner) = open.or_else(|| get_s(item, CLAIM_OWNER)) else {
        return Ok(None);
    };
    let owner =
        AccountId::parse(owner).ok_or_else(|| StoreError::Corrupt("registration owner".into()))?;
    let zone = match get_s(item, TIME_ZONE) {
        // Registered before zones existed.
        None => BillingZone::utc(),
        Some(name) => BillingZone::parse(name)
            .ok_or_else(|| StoreError::Corrupt("registration time zone".into()))?,
    };
    Ok(Some(RegistrationState {
        owner,
        name: get_s(item, APP_NAME).and_then(Name::parse),
        zone,
        open: open.is_some(),
    }))
}

fn registration_of(state: RegistrationState) -> Registration {
    Registration {
        owner: state.owner,
        name: state.name,
        zone: state.zone,
    }
}

impl DynamoStore {
    async fn registration_state(&self, app: &AppId) -> StoreResult<Option<RegistrationState>> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key(app_pk(app), REGISTRATION_SK)))
            .consistent_read(true)
            .send()
            .await
            .map_err(classify)?;
        out.item.as_ref().map_or(Ok(None), state_of)
    }

    pub(super) async fn registration_impl(&self, app: &AppId) -> StoreResult<Option<Registration>> {
        Ok(self
            .registration_state(app)
            .await?
            .filter(|state| state.open)
            .map(registration_of))
    }

    /// Reads the registration, decides, and writes under the condition that
    /// nothing was registered meanwhile (or, for a name, that the app has
    /// none yet); if another registration got in first, decides again.
    pub(super) async fn register_app_impl(
        &self,
        app: &AppId,
        request: &RegistrationRequest,
        default_zone: &BillingZone,
    ) -> StoreResult<RegisterOutcome> {
        for _ in 0..REGISTER_ATTEMPTS {
            let existing = self.registration_state(app).await?;
            let mut expr = UpdateExpr::default();
            let (condition, update, outcome) =
                match decide(existing.as_ref(), request, default_zone) {
                    Decision::OwnedByAnother => return Ok(RegisterOutcome::OwnedByAnother),
                    Decision::OtherZone(zone) => return Ok(RegisterOutcome::OtherZone(zone)),
                    Decision::Keep { name: None } => {
                        let state = existing.expect("kept registrations exist");
                        return Ok(RegisterOutcome::Accepted {
                            zone: state.zone,
                            open: state.open,
                        });
                    }
                    Decision::Keep { name: Some(name) } => {
                        let state = existing.expect("kept registrations exist");
                        let attr = expr.name(APP_NAME);
                        let value = expr.value(s(name.as_str()));
                        (
                            format!("attribute_not_exists({attr})"),
                            format!("SET {attr} = {value}"),
                            RegisterOutcome::Accepted {
                                zone: state.zone,
                                open: state.open,
                            },
                        )
                    }
                    Decision::Claim(state) => {
                        let (owner, claim) = (expr.name(OWNER), expr.name(CLAIM_OWNER));
                        let mut set = vec![
                            format!("{claim} = {}", expr.value(s(state.owner.as_str()))),
                            format!(
                                "{} = {}",
                                expr.name(TIME_ZONE),
                                expr.value(s(state.zone.name()))
                            ),
                        ];
                        if let Some(name) = &state.name {
                            set.push(format!(
                                "{} = {}",
                                expr.name(APP_NAME),
                                expr.value(s(name.as_str()))
                            ));
                        }
                        (
                            format!(
                                "attribute_not_exists({owner}) AND attribute_not_exists({claim})"
                            ),
                            format!("SET {}", set.join(", ")),
                            RegisterOutcome::Accepted {
                                zone: state.zone,
                                open: false,
                            },
                        )
                    }
                };
            let key = key(app_pk(app), REGISTRATION_SK);
            if self.update_if(key, condition, update, expr).await? {
                if let RegisterOutcome::Accepted { zone, .. } = &outcome {
                    self.remember_zone(app, zone);
                }
                return Ok(outcome);
            }
        }
        Err(StoreError::Conflict(
            "the app's registration kept changing while it was written".into(),
        ))
    }

    /// Sets `owner_account` from `claim_owner`: the app shows in answers.
    pub(super) async fn open_app_impl(&self, app: &AppId) -> StoreResult<()> {
        let mut expr = UpdateExpr::default();
        let (owner, claim) = (expr.name(OWNER), expr.name(CLAIM_OWNER));
        // Already open (or registered before zones): nothing to do.
        self.update_if(
            key(app_pk(app), REGISTRATION_SK),
            format!("attribute_not_exists({owner}) AND attribute_exists({claim})"),
            format!("SET {owner} = {claim}"),
            expr,
        )
        .await?;
        Ok(())
    }

    fn remember_zone(&self, app: &AppId, zone: &BillingZone) {
        if let Ok(mut zones) = self.zones.lock() {
            zones.insert(app.clone(), zone.clone());
        }
    }

    /// The zones remembered, and for the other apps one eventually
    /// consistent `BatchGetItem` per 100: a zone read is a zone fixed, and
    /// a registration this read misses makes the parking transaction's
    /// condition fail, after which the zone is read again.
    pub(super) async fn zones_impl(&self, apps: &[AppId]) -> StoreResult<Zones> {
        let mut found = Zones::new();
        let mut unknown = Vec::new();
        if let Ok(known) = self.zones.lock() {
            for app in apps {
                match known.get(app) {
                    Some(zone) => {
                        found.insert(app.clone(), zone.clone());
                    }
                    None => unknown.push(app),
                }
            }
        }
        for chunk in unknown.chunks(BATCH_GET_LIMIT) {
            let keys = chunk
                .iter()
                .map(|app| key(app_pk(app), REGISTRATION_SK))
                .collect();
            let request = built(KeysAndAttributes::builder().set_keys(Some(keys)).build())?;
            // Keys left unprocessed are apps taken as unregistered: their
            // usage's parking transaction checks, and fails if they are.
            let (items, _unprocessed) = self.batch_get_once(request).await?;
            for item in items {
                if let Some(state) = state_of(&item)? {
                    let app = app_of(&item)?;
                    self.remember_zone(&app, &state.zone);
                    found.insert(app, state.zone);
                }
            }
        }
        Ok(found)
    }

    /// A transaction's check that the app has no registration yet: usage is
    /// parked only while its zone is unknown.
    pub(super) fn unregistered_check(&self, app: &AppId) -> StoreResult<TransactWriteItem> {
        let check = ConditionCheck::builder()
            .table_name(&self.table)
            .set_key(Some(key(app_pk(app), REGISTRATION_SK)))
            .condition_expression("attribute_not_exists(#owner) AND attribute_not_exists(#claim)")
            .expression_attribute_names("#owner", OWNER)
            .expression_attribute_names("#claim", CLAIM_OWNER)
            .build();
        Ok(TransactWriteItem::builder()
            .condition_check(built(check)?)
            .build())
    }

    /// The account's open registrations, from the `AppsByOwner` index.
    pub(super) async fn apps_of_impl(
        &self,
        owner: &AccountId,
    ) -> StoreResult<Vec<(AppId, Registration)>> {
        let query = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(OWNER_INDEX)
            .key_condition_expression("#owner = :owner")
            .expression_attribute_names("#owner", OWNER)
            .expression_attribute_values(":owner", s(owner.as_str()));
        let mut apps = Vec::new();
        for item in self.query_all(query).await? {
            if let Some(state) = state_of(&item)? {
                apps.push((app_of(&item)?, registration_of(state)));
            }
        }
        Ok(apps)
    }
}
