//! Parameter names: users write the node reference's PascalCase (`SiteClientId`), WIT uses
//! kebab-case (`site-client-id`). One rule maps both ways.

/// `site-client-id` -> `SiteClientId`.
pub fn kebab_to_pascal(kebab: &str) -> String {
    kebab
        .split('-')
        .map(|part| {
            let mut chars = part.chars();
            match chars.next() {
                Some(first) => first.to_uppercase().chain(chars).collect::<String>(),
                None => String::new(),
            }
        })
        .collect()
}

/// `SiteClientId` -> `site-client-id`.
pub fn pascal_to_kebab(pascal: &str) -> String {
    let mut out = String::new();
    for (i, c) in pascal.chars().enumerate() {
        if c.is_uppercase() {
            if i > 0 {
                out.push('-');
            }
            out.extend(c.to_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// The closest of `candidates` to `wanted`, if it is close enough to be a likely typo.
pub fn suggest<'a>(wanted: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let wanted_lower = wanted.to_lowercase();
    candidates
        .into_iter()
        .map(|c| (edit_distance(&wanted_lower, &c.to_lowercase()), c))
        .filter(|(d, c)| *d <= (c.len().max(wanted.len()) / 3).max(2))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// " (did you mean X?)" when a near name exists, else "": appended to "unknown ..." messages.
pub fn did_you_mean<'a>(wanted: &str, candidates: impl IntoIterator<Item = &'a str>) -> String {
    suggest(wanted, candidates)
        .map(|s| format!(" (did you mean {s}?)"))
        .unwrap_or_default()
}

/// Levenshtein distance over chars.
pub fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_contract_names_both_ways() {
        for (kebab, pascal) in [
            ("site-client-id", "SiteClientId"),
            ("maincontact-name", "MaincontactName"),
            ("tickettype-id", "TickettypeId"),
            ("emailaddress", "Emailaddress"),
            ("is-vip", "IsVip"),
            ("include-inactive", "IncludeInactive"),
            ("additional-fields", "AdditionalFields"),
            ("id", "Id"),
        ] {
            assert_eq!(kebab_to_pascal(kebab), pascal);
            assert_eq!(pascal_to_kebab(pascal), kebab);
        }
    }

    #[test]
    fn suggests_near_names_only() {
        let names = ["Name", "SiteClientId", "Notes"];
        assert_eq!(suggest("SiteClientID", names), Some("SiteClientId"));
        assert_eq!(suggest("Nmae", names), Some("Name"));
        assert_eq!(suggest("Completely", names), None);
    }
}
