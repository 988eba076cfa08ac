//! Identity: users with their role and tenant memberships, browser sessions
//! and API tokens, OpenID Connect requests in flight, and sign-in throttling.

mod oidc;
mod sessions;
mod throttle;
mod users;

pub use oidc::{OIDC_LOGIN_TTL, OidcLogin, OidcLoginRepository};
pub use sessions::{ApiToken, SessionRepository, SessionRow};
pub use throttle::{ThrottleRepository, ThrottleState};
pub use users::{NewUser, User, UserChange, UserRepository};
