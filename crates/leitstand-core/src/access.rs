//! Who may do what: the roles, the actions, and the one role × action matrix
//! every check in Leitstand goes through ([`Role::may`]). Tenant viewers are
//! further limited to their own tenants by [`TenantScope`].
//!
//! Least privilege: a role gets an action only if its job needs it. The
//! README's role table is generated from [`MATRIX`] by a test, so the
//! documentation cannot drift from what is enforced.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A user's role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Administers users, tenants and configuration.
    Admin,
    /// On-call / DevOps: alerts, incidents, deployments.
    Devops,
    /// Compliance officer: approvals, regulatory deadlines, reports.
    Compliance,
    /// Security: security metrics, SIEM, audit integrity.
    Security,
    /// Auditor or authority: reads everything, changes nothing.
    Auditor,
    /// Reads its own tenants only.
    TenantViewer,
}

impl Role {
    /// Every role, in the order of the matrix.
    pub const ALL: [Role; 6] =
        [Role::Admin, Role::Devops, Role::Compliance, Role::Security, Role::Auditor, Role::TenantViewer];

    /// The role's config/API name.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Devops => "devops",
            Role::Compliance => "compliance",
            Role::Security => "security",
            Role::Auditor => "auditor",
            Role::TenantViewer => "tenant_viewer",
        }
    }

    /// Whether this role may perform `action` (tenant scope checked apart).
    pub fn may(self, action: Action) -> bool {
        MATRIX.iter().find(|(a, _)| *a == action).is_some_and(|(_, roles)| roles.contains(&self))
    }

    /// Whether the role is limited to its assigned tenants.
    pub fn is_tenant_bound(self) -> bool {
        self == Role::TenantViewer
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An unknown role name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown role {0:?}; roles are admin, devops, compliance, security, auditor, tenant_viewer")]
pub struct UnknownRole(pub String);

impl FromStr for Role {
    type Err = UnknownRole;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Role::ALL.into_iter().find(|r| r.as_str() == s).ok_or_else(|| UnknownRole(s.to_string()))
    }
}

/// A user's login name: 2 to 64 characters of a-z, 0-9, `.`, `_`, `-` and
/// `@` (an identity provider's mail-style name fits), compared without
/// regard to case. Parsed once where a name comes in (a form, a path, the
/// command line, an ID token); past that edge every layer carries this
/// type, so the store never sees a name that could not have been created.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct UserName(String);

/// Quoted like the text it is, so `{name:?}` in a message reads `"anna"`.
impl fmt::Debug for UserName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

/// Why a string is not a valid [`UserName`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid user name {value:?}: 2 to 64 characters of a-z, 0-9, '.', '_', '-', '@'")]
pub struct InvalidUserName {
    /// The rejected input.
    pub value: String,
}

impl UserName {
    /// The rule, in words for forms and error messages.
    pub const RULE: &'static str = "2 to 64 characters of a-z, 0-9, '.', '_', '-', '@'";
    /// The rule in German.
    pub const RULE_DE: &'static str = "2 bis 64 Zeichen aus a–z, 0–9, '.', '_', '-', '@'";

    /// Validates `value` (surrounding space removed, lower-cased) as a
    /// user name.
    pub fn parse(value: &str) -> Result<Self, InvalidUserName> {
        let name = value.trim().to_lowercase();
        let ok = (2..=64).contains(&name.len())
            && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-@".contains(&b));
        if ok { Ok(Self(name)) } else { Err(InvalidUserName { value: value.to_string() }) }
    }

    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for UserName {
    type Error = InvalidUserName;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<UserName> for String {
    fn from(name: UserName) -> Self {
        name.0
    }
}

impl FromStr for UserName {
    type Err = InvalidUserName;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl fmt::Display for UserName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(&self.0)
    }
}

impl PartialEq<str> for UserName {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

impl PartialEq<&str> for UserName {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

/// Something a user can do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    /// See the overview dashboard.
    ViewDashboard,
    /// List and read tenants (scoped for tenant viewers).
    ReadTenants,
    /// Create, rename, deactivate tenants.
    ManageTenants,
    /// List users and their roles.
    ReadUsers,
    /// Create, disable users, change roles, reset passwords.
    ManageUsers,
    /// List one's own API tokens.
    ReadOwnTokens,
    /// Create and revoke one's own API tokens.
    ManageOwnTokens,
    /// Change one's own password (the one thing a one-time password allows).
    ChangeOwnPassword,
    /// Change one's own language and second factor.
    ManageOwnAccount,
    /// Read the audit trail (scoped for tenant viewers).
    ReadAudit,
    /// Submit audit events (a portal's service account).
    WriteAudit,
    /// Read the effective policy.
    ReadPolicy,
    /// See probes, scrape targets, rules and their alert states (scoped for
    /// tenant viewers).
    ReadMonitoring,
    /// See alerts, their history and notifications, silences, on-call
    /// schedules and channels (scoped for tenant viewers).
    ReadAlerts,
    /// Acknowledge, unacknowledge, resolve and annotate alerts.
    RespondToAlerts,
    /// Send alerts in (Prometheus, Alertmanager; a service account's token
    /// with the `ingest` scope).
    IngestAlerts,
    /// Create and expire silences.
    ManageSilences,
    /// Subscribe to an on-call schedule as a calendar (iCalendar); all a
    /// token with the `calendar` scope can do.
    ReadOnCallCalendar,
    /// Add and remove on-call overrides.
    ManageOnCall,
    /// Send a test message through a channel.
    TestChannels,
    /// See incidents, their clocks and timelines (scoped for tenant
    /// viewers, without internal notes).
    ReadIncidents,
    /// Open incidents, move their phases, change severity and roles, add
    /// notes, resolve.
    ManageIncidents,
    /// Classify incidents under DORA (Del. Reg. (EU) 2024/1772).
    ClassifyIncidents,
    /// Record reports submitted to authorities.
    ReportIncidents,
}

impl Action {
    /// Whether the action concerns tenant data (limited to a tenant-bound
    /// role's own tenants).
    pub fn is_tenant_scoped(self) -> bool {
        matches!(
            self,
            Action::ViewDashboard
                | Action::ReadTenants
                | Action::ReadAudit
                | Action::ReadPolicy
                | Action::ReadMonitoring
                | Action::ReadAlerts
                | Action::ReadIncidents
        )
    }

    /// Stable name, used in audit events and documentation.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::ViewDashboard => "dashboard.view",
            Action::ReadTenants => "tenant.read",
            Action::ManageTenants => "tenant.manage",
            Action::ReadUsers => "user.read",
            Action::ManageUsers => "user.manage",
            Action::ReadOwnTokens => "token.read_own",
            Action::ManageOwnTokens => "token.manage_own",
            Action::ChangeOwnPassword => "account.password",
            Action::ManageOwnAccount => "account.manage",
            Action::ReadAudit => "audit.read",
            Action::WriteAudit => "audit.write",
            Action::ReadPolicy => "policy.read",
            Action::ReadMonitoring => "monitoring.read",
            Action::ReadAlerts => "alert.read",
            Action::RespondToAlerts => "alert.respond",
            Action::IngestAlerts => "alert.ingest",
            Action::ManageSilences => "silence.manage",
            Action::ReadOnCallCalendar => "oncall.calendar",
            Action::ManageOnCall => "oncall.manage",
            Action::TestChannels => "channel.test",
            Action::ReadIncidents => "incident.read",
            Action::ManageIncidents => "incident.manage",
            Action::ClassifyIncidents => "incident.classify",
            Action::ReportIncidents => "incident.report",
        }
    }
}

use Role::*;

/// The role × action matrix: the one place permissions are defined.
pub const MATRIX: &[(Action, &[Role])] = &[
    (Action::ViewDashboard, &[Admin, Devops, Compliance, Security, Auditor, TenantViewer]),
    (Action::ReadTenants, &[Admin, Devops, Compliance, Security, Auditor, TenantViewer]),
    (Action::ManageTenants, &[Admin]),
    (Action::ReadUsers, &[Admin, Security, Auditor]),
    (Action::ManageUsers, &[Admin]),
    (Action::ReadOwnTokens, &[Admin, Devops, Compliance, Security, Auditor, TenantViewer]),
    (Action::ManageOwnTokens, &[Admin, Devops, Compliance, Security, Auditor, TenantViewer]),
    (Action::ChangeOwnPassword, &[Admin, Devops, Compliance, Security, Auditor, TenantViewer]),
    (Action::ManageOwnAccount, &[Admin, Devops, Compliance, Security, Auditor, TenantViewer]),
    (Action::ReadAudit, &[Admin, Compliance, Security, Auditor, TenantViewer]),
    (Action::WriteAudit, &[Admin, Devops, Security]),
    (Action::ReadPolicy, &[Admin, Devops, Compliance, Security, Auditor, TenantViewer]),
    (Action::ReadMonitoring, &[Admin, Devops, Compliance, Security, Auditor, TenantViewer]),
    (Action::ReadAlerts, &[Admin, Devops, Compliance, Security, Auditor, TenantViewer]),
    (Action::RespondToAlerts, &[Admin, Devops]),
    (Action::IngestAlerts, &[Admin, Devops]),
    (Action::ManageSilences, &[Admin, Devops]),
    (Action::ReadOnCallCalendar, &[Admin, Devops, Compliance, Security, Auditor, TenantViewer]),
    (Action::ManageOnCall, &[Admin, Devops]),
    (Action::TestChannels, &[Admin, Devops]),
    (Action::ReadIncidents, &[Admin, Devops, Compliance, Security, Auditor, TenantViewer]),
    (Action::ManageIncidents, &[Admin, Devops, Security]),
    (Action::ClassifyIncidents, &[Admin, Compliance]),
    (Action::ReportIncidents, &[Admin, Compliance]),
];

/// Which tenants' data a principal may see.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TenantScope<T> {
    /// Every tenant.
    All,
    /// Only these tenants.
    Only(Vec<T>),
}

impl<T: PartialEq> TenantScope<T> {
    /// Whether `tenant` is visible.
    pub fn includes(&self, tenant: &T) -> bool {
        match self {
            TenantScope::All => true,
            TenantScope::Only(list) => list.contains(tenant),
        }
    }
}

/// The README table of the matrix (Markdown).
pub fn matrix_markdown() -> String {
    let mut out = String::from("| action |");
    for role in Role::ALL {
        out.push_str(&format!(" {role} |"));
    }
    out.push_str("\n|---|");
    out.push_str(&"---|".repeat(Role::ALL.len()));
    out.push('\n');
    for (action, _) in MATRIX {
        out.push_str(&format!("| `{}` |", action.as_str()));
        for role in Role::ALL {
            let cell = match (role.may(*action), role.is_tenant_bound() && action.is_tenant_scoped()) {
                (true, true) => " own tenants |",
                (true, false) => " ✓ |",
                (false, _) => " – |",
            };
            out.push_str(cell);
        }
        out.push('\n');
    }
    out
}

/// Password rules for local accounts (BSI ORP.4: length over complexity).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WeakPassword {
    /// Too short.
    #[error("the password must have at least {min} characters")]
    TooShort {
        /// Minimum length.
        min: usize,
    },
    /// Too long to hash sensibly.
    #[error("the password must have at most {max} characters")]
    TooLong {
        /// Maximum length.
        max: usize,
    },
    /// Contains the user name.
    #[error("the password must not contain the user name")]
    ContainsUsername,
    /// A well-known password.
    #[error("the password is on the list of commonly used passwords")]
    Common,
}

impl WeakPassword {
    /// The same in English and German.
    pub fn message(&self) -> crate::input::Message {
        let de = match self {
            WeakPassword::TooShort { min } => format!("Das Passwort muss mindestens {min} Zeichen haben"),
            WeakPassword::TooLong { max } => format!("Das Passwort darf höchstens {max} Zeichen haben"),
            WeakPassword::ContainsUsername => "Das Passwort darf den Benutzernamen nicht enthalten".into(),
            WeakPassword::Common => "Das Passwort steht auf der Liste häufig verwendeter Passwörter".into(),
        };
        crate::input::Message::new(self.to_string(), de)
    }
}

/// Minimum password length.
pub const MIN_PASSWORD_LEN: usize = 12;
const MAX_PASSWORD_LEN: usize = 256;
const COMMON: &[&str] = &[
    "passwort1234",
    "password1234",
    "123456789012",
    "qwertzuiop12",
    "qwertyuiop12",
    "administrator",
    "leitstand123",
    "sommer2026!!",
    "winter2026!!",
    "hallo1234567",
    "passwort123!",
    "password123!",
];

/// Checks a new password against the policy.
pub fn check_password(username: &str, password: &str) -> Result<(), WeakPassword> {
    let len = password.chars().count();
    if len < MIN_PASSWORD_LEN {
        return Err(WeakPassword::TooShort { min: MIN_PASSWORD_LEN });
    }
    if len > MAX_PASSWORD_LEN {
        return Err(WeakPassword::TooLong { max: MAX_PASSWORD_LEN });
    }
    let lower = password.to_lowercase();
    if !username.is_empty() && lower.contains(&username.to_lowercase()) {
        return Err(WeakPassword::ContainsUsername);
    }
    if COMMON.contains(&lower.as_str()) || password.chars().all(|c| password.starts_with(c)) {
        return Err(WeakPassword::Common);
    }
    Ok(())
}

/// Progressive delay and lockout after failed logins, per account and per
/// source address.
///
/// Every attempt is counted *before* its password is checked, in one atomic
/// step of the store, and an attempt is checked only while the count is
/// within the limit: however many arrive at once, at most `lock_after`
/// passwords of one account (and `ip_lock_after` from one address) are ever
/// tried per lock window. A successful attempt gives its count back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Throttle {
    /// Failures after which an account is locked.
    pub lock_after: u32,
    /// Failures after which a source address is locked (higher: many users
    /// may share one address behind NAT).
    pub ip_lock_after: u32,
    /// First step of the progressive delay.
    pub base_delay: std::time::Duration,
    /// How long a lock lasts.
    pub lock_for: jiff::SignedDuration,
    /// Failures older than this no longer count.
    pub window: jiff::SignedDuration,
    /// Attempts of one account checked at the same time (per replica); more
    /// wait their turn.
    pub account_in_flight: u32,
    /// Attempts from one source address checked at the same time.
    pub ip_in_flight: u32,
}

impl Default for Throttle {
    fn default() -> Self {
        Self {
            lock_after: 10,
            ip_lock_after: 50,
            base_delay: std::time::Duration::from_millis(250),
            lock_for: jiff::SignedDuration::from_mins(15),
            window: jiff::SignedDuration::from_mins(15),
            account_in_flight: 2,
            ip_in_flight: 8,
        }
    }
}

/// The prefix of throttle keys of source addresses (the rest names the
/// account).
pub const IP_KEY_PREFIX: &str = "ip:";

impl Throttle {
    /// Delay before answering the `failures`-th consecutive failure:
    /// 0 for the first three, then doubling from `base_delay` (250 ms) up
    /// to 16× that (4 s).
    pub fn delay(&self, failures: u32) -> std::time::Duration {
        if failures <= 3 {
            return std::time::Duration::ZERO;
        }
        self.base_delay * (1u32 << (failures - 4).min(4))
    }

    /// The lock threshold for a throttle key (`ip:` keys or accounts).
    pub fn limit_for(&self, key: &str) -> u32 {
        if key.starts_with(IP_KEY_PREFIX) { self.ip_lock_after } else { self.lock_after }
    }

    /// How many attempts of a key may be checked at once.
    pub fn in_flight_for(&self, key: &str) -> u32 {
        if key.starts_with(IP_KEY_PREFIX) { self.ip_in_flight } else { self.account_in_flight }
    }

    /// Whether the attempt that brought the count of `key` to `attempts`
    /// may be checked: the attempt that reaches the limit is (and locks the
    /// key meanwhile), none after it.
    pub fn admits(&self, key: &str, attempts: u32) -> bool {
        attempts <= self.limit_for(key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn least_privilege() {
        assert!(Role::Admin.may(Action::ManageUsers));
        assert!(!Role::Auditor.may(Action::ManageTenants), "auditors only read");
        assert!(!Role::Devops.may(Action::ReadUsers));
        assert!(Role::TenantViewer.may(Action::ReadTenants));
        assert!(!Role::TenantViewer.may(Action::ManageTenants));
        for role in Role::ALL {
            assert_eq!(role.as_str().parse::<Role>().unwrap(), role);
        }
        assert!("root".parse::<Role>().unwrap_err().to_string().contains("tenant_viewer"));
    }

    #[test]
    fn user_names_are_parsed_once_and_lower_cased() {
        assert_eq!(UserName::parse("  Erika.Mustermann ").unwrap().as_str(), "erika.mustermann");
        assert_eq!(UserName::parse("anna@bund.de").unwrap().as_str(), "anna@bund.de");
        assert_eq!(format!("{:?}", UserName::parse("anna").unwrap()), "\"anna\"");
        for bad in ["", "a", "erika mustermann", "../admin", "ärger", &"x".repeat(65), "admin;drop"] {
            let e = UserName::parse(bad).unwrap_err();
            assert!(e.to_string().contains("2 to 64"), "{bad:?}: {e}");
        }
        let json: Result<UserName, _> = serde_json::from_str("\"a b\"");
        assert!(json.is_err(), "deserialising validates as well");
    }

    #[test]
    fn every_action_is_in_the_matrix_once() {
        for (i, (a, _)) in MATRIX.iter().enumerate() {
            assert!(MATRIX[i + 1..].iter().all(|(b, _)| b != a), "{a:?} twice");
        }
    }

    #[test]
    fn the_readme_shows_the_enforced_matrix() {
        let readme =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md")).unwrap_or_default();
        assert!(
            readme.contains(&matrix_markdown()),
            "README.md must contain the role matrix exactly as enforced:\n{}",
            matrix_markdown()
        );
    }

    #[test]
    fn scope() {
        let only = TenantScope::Only(vec![1, 2]);
        assert!(only.includes(&1) && !only.includes(&3));
        assert!(TenantScope::<i32>::All.includes(&3));
    }

    #[test]
    fn password_policy() {
        assert_eq!(check_password("anna", "kurz"), Err(WeakPassword::TooShort { min: 12 }));
        assert_eq!(check_password("anna", "xxAnna-und-mehr"), Err(WeakPassword::ContainsUsername));
        assert_eq!(check_password("anna", "Passwort1234"), Err(WeakPassword::Common));
        assert_eq!(check_password("anna", "aaaaaaaaaaaaaa"), Err(WeakPassword::Common));
        assert!(check_password("anna", "korrekt Pferd Batterie").is_ok());
    }

    #[test]
    fn throttle_admits_up_to_the_limit_of_each_kind_of_key() {
        let t = Throttle::default();
        assert!(t.admits("account:ps:x", 10) && !t.admits("account:ps:x", 11));
        assert!(t.admits("ip:ps:y", 50) && !t.admits("ip:ps:y", 51));
        assert_eq!((t.in_flight_for("account:ps:x"), t.in_flight_for("ip:ps:y")), (2, 8));
    }

    #[test]
    fn throttle_delays_grow_then_cap() {
        let t = Throttle::default();
        let ms: Vec<u128> = (1..=10).map(|n| t.delay(n).as_millis()).collect();
        assert_eq!(ms, [0, 0, 0, 250, 500, 1000, 2000, 4000, 4000, 4000]);
    }
}
