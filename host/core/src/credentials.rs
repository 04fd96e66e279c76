//! Which environment variables hold credentials, for every connector alike.
//!
//! A workflow file is written by someone other than the person who runs it, so it must not be
//! able to read a credential into an expression (and from there into a ticket or an output),
//! nor point a connection at a variable of its choosing. These rules are by name, so they apply
//! the same to `HALOPSA_CLIENT_SECRET`, `CONNECTWISE_PRIVATE_KEY` and a cloud provider's key.

/// Name fragments that mark a variable as a credential (compared without regard to case).
pub const CREDENTIAL_MARKERS: [&str; 6] =
    ["SECRET", "TOKEN", "PASSWORD", "PASSWD", "KEY", "CREDENTIAL"];

/// Prefix of psaflow's own variables, usable by any connector's `client_secret_env`.
pub const PSAFLOW_ENV_PREFIX: &str = "PSAFLOW_";

/// True when `name` looks like it holds a credential: it contains SECRET, TOKEN, PASSWORD,
/// PASSWD, KEY or CREDENTIAL in any case (`HALOPSA_CLIENT_SECRET`, `CONNECTWISE_PRIVATE_KEY`,
/// `AWS_SECRET_ACCESS_KEY`, `GITHUB_TOKEN`, `db_password`).
pub fn is_credential_variable(name: &str) -> bool {
    let upper = name.to_ascii_uppercase();
    CREDENTIAL_MARKERS.iter().any(|m| upper.contains(m))
}

/// True when a connection may read its secret from `name`: a variable of the connector's own
/// prefix (`HALOPSA_`, `CONNECTWISE_`) or of psaflow's (`PSAFLOW_`). A workflow-supplied
/// connection naming anything else (`AWS_SECRET_ACCESS_KEY`) would let a workflow file send
/// an unrelated secret to a server of its choosing.
pub fn is_connection_secret_variable(name: &str, connector_prefix: &str) -> bool {
    let valid = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_');
    valid
        && [connector_prefix, PSAFLOW_ENV_PREFIX]
            .iter()
            .any(|p| name.len() > p.len() && name.starts_with(p))
}

/// True for a name usable as an environment variable in a workflow: letters, digits and `_`,
/// not starting with a digit.
pub fn is_env_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credential_names_are_recognised_in_any_case() {
        for name in [
            "HALOPSA_CLIENT_SECRET",
            "CONNECTWISE_PRIVATE_KEY",
            "CONNECTWISE_PUBLIC_KEY",
            "AWS_SECRET_ACCESS_KEY",
            "GITHUB_TOKEN",
            "db_password",
            "SMTP_PASSWD",
            "GOOGLE_APPLICATION_CREDENTIALS",
            "ApiKey",
        ] {
            assert!(is_credential_variable(name), "{name}");
        }
        for name in ["REGION", "HALOPSA_API_URL", "HALOPSA_CLIENT_ID", "TICKET_TYPE"] {
            assert!(!is_credential_variable(name), "{name}");
        }
    }

    #[test]
    fn connections_read_secrets_only_from_their_own_prefixes() {
        assert!(is_connection_secret_variable("HALOPSA_CLIENT_SECRET", "HALOPSA_"));
        assert!(is_connection_secret_variable("HALOPSA_PROD_SECRET", "HALOPSA_"));
        assert!(is_connection_secret_variable("PSAFLOW_HALO_SECRET", "HALOPSA_"));
        assert!(is_connection_secret_variable("CONNECTWISE_PRIVATE_KEY", "CONNECTWISE_"));
        assert!(!is_connection_secret_variable("CONNECTWISE_PRIVATE_KEY", "HALOPSA_"));
        assert!(!is_connection_secret_variable("AWS_SECRET_ACCESS_KEY", "HALOPSA_"));
        assert!(!is_connection_secret_variable("HALOPSA_", "HALOPSA_"));
        assert!(!is_connection_secret_variable("HALOPSA_X=1", "HALOPSA_"));
        assert!(!is_connection_secret_variable("halopsa_secret", "HALOPSA_"));
    }

    #[test]
    fn env_names() {
        assert!(is_env_name("REGION"));
        assert!(is_env_name("_x1"));
        assert!(!is_env_name("1X"));
        assert!(!is_env_name("A-B"));
        assert!(!is_env_name(""));
    }
}
