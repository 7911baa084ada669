//! Route table finders, evaluated against observed tables, and the part of them EC2 can
//! evaluate server-side.

use std::collections::{BTreeMap, BTreeSet};

use crate::config::Finder;

use super::snapshot::RouteTableView;

/// Whether `table` is selected by `finder`.
pub fn matches(finder: &Finder, table: &RouteTableView) -> bool {
    match finder {
        Finder::ByTag { key, value } => table.tags.get(key) == Some(value),
        Finder::ByTagRegexp { key, regexp } => table.tags.get(key).is_some_and(|v| regexp.is_match(v)),
        Finder::And(fs) => fs.iter().all(|f| matches(f, table)),
        Finder::Or(fs) => fs.iter().any(|f| matches(f, table)),
        Finder::Main => table.main,
        Finder::Subnet { subnet_id } => table.subnet_ids.contains(subnet_id),
        Finder::HasRouteTo { cidr } => table.routes.iter().any(|r| r.destination == *cidr),
        Finder::Not(f) => !matches(f, table),
    }
}

/// Tag values a table must have for `finder` to select it: key → allowed values. A key
/// absent from the map is unconstrained.
fn required_tags(finder: &Finder) -> BTreeMap<String, BTreeSet<String>> {
    match finder {
        Finder::ByTag { key, value } => BTreeMap::from([(key.clone(), BTreeSet::from([value.clone()]))]),
        Finder::And(fs) => {
            let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
            for f in fs {
                for (k, vs) in required_tags(f) {
                    match out.get_mut(&k) {
                        // Both must hold: intersect.
                        Some(existing) => existing.retain(|v| vs.contains(v)),
                        None => {
                            out.insert(k, vs);
                        }
                    }
                }
            }
            out
        }
        Finder::Or(fs) => union_all(fs.iter().map(required_tags)),
        // Negations, regexps and the rest constrain nothing we can send to EC2.
        _ => BTreeMap::new(),
    }
}

/// Constraints every one of several requirement maps imposes: a key survives only if all
/// constrain it, with the union of their values.
fn union_all(
    maps: impl Iterator<Item = BTreeMap<String, BTreeSet<String>>>,
) -> BTreeMap<String, BTreeSet<String>> {
    let mut result: Option<BTreeMap<String, BTreeSet<String>>> = None;
    for m in maps {
        result = Some(match result {
            None => m,
            Some(acc) => acc
                .into_iter()
                .filter_map(|(k, mut vs)| {
                    let other = m.get(&k)?;
                    vs.extend(other.iter().cloned());
                    Some((k, vs))
                })
                .collect(),
        });
    }
    result.unwrap_or_default()
}

/// EC2 `tag:KEY` filters that every table selected by any of `finders` satisfies, so one
/// DescribeRouteTables call can ask for just those tables. Evaluation on our side still
/// applies every finder in full.
pub fn server_side_tag_filters<'a>(
    finders: impl IntoIterator<Item = &'a Finder>,
) -> Vec<(String, Vec<String>)> {
    union_all(finders.into_iter().map(required_tags))
        .into_iter()
        .filter(|(_, vs)| !vs.is_empty())
        .map(|(k, vs)| (k, vs.into_iter().collect()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::routes::snapshot::{RouteHolder, RouteState, RouteView};

    fn tag(key: &str, value: &str) -> Finder {
        Finder::ByTag {
            key: key.into(),
            value: value.into(),
        }
    }

    fn table(tags: &[(&str, &str)]) -> RouteTableView {
        RouteTableView {
            id: "rtb-1".into(),
            vpc_id: "vpc-1".into(),
            main: false,
            tags: tags.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            subnet_ids: vec!["subnet-1".into()],
            routes: vec![RouteView {
                destination: "10.0.0.0/16".parse().expect("cidr"),
                target: RouteHolder::Gateway("local".into()),
                state: RouteState::Active,
            }],
        }
    }

    #[test]
    fn finder_table() {
        let t = table(&[("az", "eu-west-1a"), ("type", "private"), ("Name", "private-a")]);
        let re = |r: &str| Finder::ByTagRegexp {
            key: "Name".into(),
            regexp: regex::Regex::new(r).expect("regex"),
        };
        let rows: Vec<(Finder, bool)> = vec![
            (tag("az", "eu-west-1a"), true),
            (tag("az", "eu-west-1b"), false),
            (tag("missing", "x"), false),
            (re("^private-"), true),
            (re("^public-"), false),
            (
                Finder::And(vec![tag("az", "eu-west-1a"), tag("type", "private")]),
                true,
            ),
            (
                Finder::And(vec![tag("az", "eu-west-1a"), tag("type", "public")]),
                false,
            ),
            (
                Finder::Or(vec![tag("az", "eu-west-1b"), tag("type", "private")]),
                true,
            ),
            (
                Finder::Or(vec![tag("az", "eu-west-1b"), tag("type", "public")]),
                false,
            ),
            (Finder::Not(Box::new(tag("az", "eu-west-1a"))), false),
            (Finder::Not(Box::new(tag("az", "eu-west-1b"))), true),
            (Finder::Main, false),
            (
                Finder::Subnet {
                    subnet_id: "subnet-1".into(),
                },
                true,
            ),
            (
                Finder::Subnet {
                    subnet_id: "subnet-2".into(),
                },
                false,
            ),
            (
                Finder::HasRouteTo {
                    cidr: "10.0.0.0/16".parse().expect("cidr"),
                },
                true,
            ),
            (
                Finder::HasRouteTo {
                    cidr: "0.0.0.0/0".parse().expect("cidr"),
                },
                false,
            ),
        ];
        for (finder, want) in rows {
            assert_eq!(matches(&finder, &t), want, "{}", finder.describe());
        }
        let mut main = table(&[]);
        main.main = true;
        assert!(matches(&Finder::Main, &main));
    }

    #[test]
    fn server_side_filters_are_what_every_finder_requires() {
        // The README layout: our AZ and not-our-AZ, both private.
        let ours = Finder::And(vec![tag("az", "eu-west-1a"), tag("type", "private")]);
        let others = Finder::And(vec![
            Finder::Not(Box::new(tag("az", "eu-west-1a"))),
            tag("type", "private"),
        ]);
        assert_eq!(
            server_side_tag_filters([&ours, &others]),
            vec![("type".to_string(), vec!["private".to_string()])]
        );
        // Two tables by Name: one filter with both values.
        let a = tag("Name", "private-a");
        let b = tag("Name", "private-b");
        assert_eq!(
            server_side_tag_filters([&a, &b]),
            vec![(
                "Name".to_string(),
                vec!["private-a".to_string(), "private-b".to_string()]
            )]
        );
        // Anything unconstrained (main table) means no tag filter at all.
        assert!(server_side_tag_filters([&a, &Finder::Main]).is_empty());
        // Contradictory and: no filter rather than an impossible one.
        let contradiction = Finder::And(vec![tag("az", "a"), tag("az", "b")]);
        assert!(server_side_tag_filters([&contradiction]).is_empty());
        // An or of tags on the same key.
        let either = Finder::Or(vec![tag("az", "a"), tag("az", "b")]);
        assert_eq!(
            server_side_tag_filters([&either]),
            vec![("az".to_string(), vec!["a".to_string(), "b".to_string()])]
        );
    }
}
