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
///
/// A dotted name (`halopsa.agent.delete`) whose prefix names something that exists is
/// answered with a sibling only (`halopsa.agent.deactivate`): the same record type's
/// operations, first one that does what the wanted word means, then a near spelling. Another
/// resource's operation of the same name (`halopsa.client.delete`) is the closest spelling but
/// would act on the wrong records.
pub fn suggest<'a>(wanted: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let candidates: Vec<&'a str> = candidates.into_iter().collect();
    if let Some((prefix, last)) = wanted.rsplit_once('.') {
        let siblings: Vec<(&'a str, &'a str)> = candidates
            .iter()
            .filter_map(|c| c.rsplit_once('.').map(|(p, l)| (p, l, *c)))
            .filter(|(p, _, _)| p.eq_ignore_ascii_case(prefix))
            .map(|(_, l, c)| (l, c))
            .collect();
        if !siblings.is_empty() {
            return sibling_for(last, &siblings);
        }
    }
    nearest(wanted, candidates)
}

/// Of `siblings` (last segment, whole name), the one meaning `wanted`, else a near spelling.
fn sibling_for<'a>(wanted: &str, siblings: &[(&'a str, &'a str)]) -> Option<&'a str> {
    let wanted = wanted.to_lowercase();
    let named = |last: &str| {
        siblings
            .iter()
            .find(|(l, _)| l.eq_ignore_ascii_case(last))
            .map(|&(_, name)| name)
    };
    let meaning = crate::operation_words::ALTERNATIVES
        .iter()
        .filter(|(word, _)| *word == wanted)
        .flat_map(|(_, instead)| instead.iter())
        .find_map(|alt| named(alt));
    meaning.or_else(|| nearest(&wanted, siblings.iter().map(|(last, _)| *last)).and_then(named))
}


/// The candidate nearest to `wanted` in spelling, if close enough to be a likely typo.
fn nearest<'a>(wanted: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let wanted_lower = wanted.to_lowercase();
    candidates
        .into_iter()
        .map(|c| (edit_distance(&wanted_lower, &c.to_lowercase()), c))
        // Within a third of the length (at least 2 edits), and never a whole rewrite: `zz`
        // is 2 edits from `n` but shares nothing with it.
        .filter(|(d, c)| {
            let longer = c.len().max(wanted.len());
            *d <= (longer / 3).max(2) && *d < longer
        })
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
    fn a_short_name_is_not_near_one_it_shares_nothing_with() {
        assert_eq!(suggest("zz", ["n"]), None);
        assert_eq!(suggest("x", ["n"]), None);
        assert_eq!(suggest("nn", ["n"]), Some("n"));
        assert_eq!(suggest("id", ["ids"]), Some("ids"));
    }

    #[test]
    fn suggests_near_names_only() {
        let names = ["Name", "SiteClientId", "Notes"];
        assert_eq!(suggest("SiteClientID", names), Some("SiteClientId"));
        assert_eq!(suggest("Nmae", names), Some("Name"));
        assert_eq!(suggest("Completely", names), None);
    }

    #[test]
    fn a_node_id_is_answered_with_its_own_resource_operations_first() {
        let ids = [
            "halopsa.agent.deactivate",
            "halopsa.agent.get",
            "halopsa.agent.get-many",
            "halopsa.client.delete",
            "halopsa.client.get",
        ];
        assert_eq!(
            suggest("halopsa.agent.delete", ids),
            Some("halopsa.agent.deactivate")
        );
        assert_eq!(
            suggest("halopsa.agent.list", ids),
            Some("halopsa.agent.get-many")
        );
        assert_eq!(suggest("halopsa.agent.gte", ids), Some("halopsa.agent.get"));
        assert_eq!(suggest("halopsa.agent.frobnicate", ids), None);
        // A typo in the resource has no siblings: the nearest id overall.
        assert_eq!(
            suggest("halopsa.clinet.delete", ids),
            Some("halopsa.client.delete")
        );
    }
}
