//! A page of connections computed in memory from cached adjacency lists: the same answer as
//! the page statements of `store::pages`, without SQL. The owner's list is already in the
//! API's order, so a page is one pass that marks the mutual connections (membership in the
//! viewer's sorted list), then a skip and a take; no sort, whatever the list's length.

use super::graph::{Adjacency, Requests};
use crate::store::{ConnectionPageRows, Direction, Keyset, PageRow, PageSpec, Relation};

/// The viewer, as a page needs them: who, whom they are connected with, their requests.
pub struct Perspective<'a> {
    pub adjacency: &'a Adjacency,
    pub requests: &'a Requests,
}

impl Perspective<'_> {
    /// How the viewer relates to `user` (`connected`: `user` is one of the viewer's
    /// connections, so mutual when listed in another user's connections).
    pub fn relation(&self, user: i64) -> Relation {
        Relation {
            connected: self.adjacency.contains(user),
            sent_request: self.requests.sent_to(user),
            received_request: self.requests.received_from(user),
        }
    }
}

/// One page of `owner`'s connections as `viewer` sees them (None: anonymous), without
/// records: mutual connections first, then the others, each in the owner's order.
pub fn page(owner: &Adjacency, viewer: Option<&Perspective>, spec: PageSpec) -> ConnectionPageRows {
    if let Some(keyset) = spec.keyset {
        return keyset_page(owner, viewer, spec, keyset);
    }
    let mutual: Vec<bool> = match viewer {
        Some(v) => owner
            .ordered
            .iter()
            .map(|id| v.adjacency.contains(*id))
            .collect(),
        None => vec![false; owner.len()],
    };
    let mutuals = mutual.iter().filter(|m| **m).count();
    let listed = |wanted: bool| {
        mutual
            .iter()
            .enumerate()
            .filter(move |(_, m)| **m == wanted)
            .map(|(place, _)| place)
    };
    let (count, order): (usize, Box<dyn Iterator<Item = usize>>) = match spec.mutual {
        None => (owner.len(), Box::new(listed(true).chain(listed(false)))),
        Some(true) => (mutuals, Box::new(listed(true))),
        Some(false) => (owner.len() - mutuals, Box::new(listed(false))),
    };
    let offset = usize::try_from(spec.offset).unwrap_or(usize::MAX);
    let limit = usize::try_from(spec.limit).unwrap_or(usize::MAX);
    let rows = match offset >= count {
        true => Vec::new(),
        false => order
            .skip(offset)
            .take(limit)
            .map(|place| row(owner, viewer, place))
            .collect(),
    };
    ConnectionPageRows {
        count: count as u64,
        rows,
        beyond: false,
    }
}

/// The listed connection at `place` in `owner`'s order.
fn row(owner: &Adjacency, viewer: Option<&Perspective>, place: usize) -> PageRow {
    let id = owner.ordered[place];
    PageRow {
        id,
        user: None,
        relation: viewer.map(|v| v.relation(id)).unwrap_or_default(),
        connected_at_us: owner.connected_at[place],
    }
}

/// A keyset page: binary searches in the owner's order, then a walk of `limit` connections
/// (and of the mutual ones they pass), whatever the depth of the place in the list.
///
/// The viewer's list splits the owner's into the mutual connections (`common`, first) and
/// the others, each in the owner's order. A place splits each part in two: what is listed at
/// or before it, and what after. A mutual place has all the others after it; another place
/// has all the mutual ones before it.
fn keyset_page(
    owner: &Adjacency,
    viewer: Option<&Perspective>,
    spec: PageSpec,
    keyset: Keyset,
) -> ConnectionPageRows {
    let common = match viewer {
        Some(v) => owner.common_places(v.adjacency),
        None => Vec::new(),
    };
    let is_common = |place: usize| common.binary_search(&place).is_ok();
    let mutual_part: &[usize] = match spec.mutual {
        Some(false) => &[],
        _ => &common,
    };
    let with_others = spec.mutual != Some(true);
    let others_count = match with_others {
        true => owner.len() - common.len(),
        false => 0,
    };
    // Where the place splits the mutual part (an index in it), and the others (a place in
    // the owner's order).
    let (mutual_split, others_split) = match (keyset.from, keyset.direction) {
        (None, Direction::Forward) => (0, 0),
        (None, Direction::Backward) => (mutual_part.len(), owner.len()),
        (Some(key), direction) => {
            // Forward, the place's own connection is behind the page; backward, ahead of it.
            let inclusive = direction == Direction::Forward;
            let split = owner.split(key.connected_at_us, key.id, inclusive);
            match key.mutual {
                true => (mutual_part.partition_point(|p| *p < split), 0),
                false => (mutual_part.len(), split),
            }
        }
    };
    let others = |range: std::ops::Range<usize>| {
        range.filter(move |place| with_others && !is_common(*place))
    };
    let limit = usize::try_from(spec.limit).unwrap_or(usize::MAX);
    let others_before = || others(0..others_split).next().is_some();
    let others_after = || others(others_split..owner.len()).next().is_some();
    let (places, beyond): (Vec<usize>, bool) = match keyset.direction {
        Direction::Forward => (
            mutual_part[mutual_split..]
                .iter()
                .copied()
                .chain(others(others_split..owner.len()))
                .take(limit)
                .collect(),
            keyset.from.is_some() && (mutual_split > 0 || others_before()),
        ),
        Direction::Backward => {
            let mut places: Vec<usize> = others(0..others_split)
                .rev()
                .chain(mutual_part[..mutual_split].iter().rev().copied())
                .take(limit)
                .collect();
            places.reverse();
            let beyond = mutual_split < mutual_part.len() || others_after();
            (places, keyset.from.is_some() && beyond)
        }
    };
    ConnectionPageRows {
        count: (mutual_part.len() + others_count) as u64,
        rows: places
            .into_iter()
            .map(|place| row(owner, viewer, place))
            .collect(),
        beyond,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::EdgeKey;

    fn spec(limit: u64, offset: u64, mutual: Option<bool>) -> PageSpec {
        PageSpec::offset(limit, offset, mutual)
    }

    fn ids(page: &ConnectionPageRows) -> Vec<i64> {
        page.rows.iter().map(|r| r.id).collect()
    }

    /// A list in the API's order: each connection a second older than the one before.
    fn list(ids: &[i64]) -> Adjacency {
        Adjacency::new(
            ids.iter()
                .enumerate()
                .map(|(i, id)| (*id, 1_000_000 * (100 - i as i64)))
                .collect(),
        )
    }

    #[test]
    fn mutual_first_then_the_owners_order() {
        let owner = list(&[5, 3, 9, 1, 7]);
        let viewer_list = list(&[9, 7, 42]);
        let requests = Requests::new(vec![3], vec![1, 5]);
        let v = Perspective {
            adjacency: &viewer_list,
            requests: &requests,
        };
        let all = page(&owner, Some(&v), spec(10, 0, None));
        assert_eq!((all.count, ids(&all)), (5, vec![9, 7, 5, 3, 1]));
        assert!(all.rows[0].relation.connected);
        assert!(all.rows[3].relation.sent_request);
        assert!(all.rows[2].relation.received_request);
        let second = page(&owner, Some(&v), spec(2, 1, None));
        assert_eq!(ids(&second), vec![7, 5]);
        let only = page(&owner, Some(&v), spec(10, 0, Some(true)));
        assert_eq!((only.count, ids(&only)), (2, vec![9, 7]));
        let others = page(&owner, Some(&v), spec(2, 1, Some(false)));
        assert_eq!((others.count, ids(&others)), (3, vec![3, 1]));
        let past = page(&owner, Some(&v), spec(2, u64::MAX, None));
        assert_eq!((past.count, ids(&past)), (5, vec![]));
    }

    #[test]
    fn anonymous_sees_the_owners_order_and_no_relation() {
        let owner = list(&[5, 3]);
        let all = page(&owner, None, spec(10, 0, None));
        assert_eq!(ids(&all), vec![5, 3]);
        assert_eq!(all.rows[0].relation, Relation::default());
        assert_eq!(page(&owner, None, spec(10, 0, Some(true))).count, 0);
    }

    /// Every keyset page equals the slice of the whole list (the offset page) that lies on
    /// its side of its place: for every place in the list and places between and around its
    /// connections, both ways, every filter, with ties on `connected_at`, for a viewer and
    /// anonymously.
    #[test]
    fn a_keyset_page_is_the_slice_of_the_list_beyond_its_place() {
        // Ties: pairs of connections made in the same second, listed by id.
        let mut edges: Vec<(i64, i64)> = [8, 2, 6, 4, 9, 1, 7, 3, 5]
            .iter()
            .enumerate()
            .map(|(i, id)| (*id, 1_000_000 * (50 - i as i64 / 2)))
            .collect();
        edges.sort_by_key(|(id, at)| (-at, *id));
        let owner = Adjacency::new(edges);
        let viewer_list = list(&[4, 1, 8, 11]);
        let requests = Requests::default();
        let viewer = Perspective {
            adjacency: &viewer_list,
            requests: &requests,
        };
        for who in [None, Some(&viewer)] {
            for mutual in [None, Some(true), Some(false)] {
                let whole = page(&owner, who, spec(100, 0, mutual));
                let keys: Vec<EdgeKey> = whole.rows.iter().map(PageRow::key).collect();
                // The listed places, and places that list nothing: before, between, after.
                let mut places: Vec<Option<EdgeKey>> = vec![None];
                for key in &keys {
                    places.push(Some(*key));
                    for (dt, did) in [(0, 1), (0, -1), (1, 0), (-1, 0)] {
                        places.push(Some(EdgeKey {
                            connected_at_us: key.connected_at_us + dt,
                            id: key.id + did,
                            ..*key
                        }));
                    }
                }
                for from in places {
                    for direction in [Direction::Forward, Direction::Backward] {
                        for limit in [1, 2, 3, 100] {
                            let keyset = Keyset {
                                direction,
                                from,
                                counted: true,
                            };
                            let spec = PageSpec {
                                keyset: Some(keyset),
                                ..spec(limit, 0, mutual)
                            };
                            let got = page(&owner, who, spec);
                            let side = |k: &EdgeKey| match (from, direction) {
                                (None, _) => true,
                                (Some(f), Direction::Forward) => f.order(k).is_lt(),
                                (Some(f), Direction::Backward) => k.order(&f).is_lt(),
                            };
                            let on_side: Vec<i64> =
                                keys.iter().filter(|k| side(k)).map(|k| k.id).collect();
                            let n = limit as usize;
                            let want = match direction {
                                Direction::Forward => on_side.iter().take(n).copied().collect(),
                                Direction::Backward => {
                                    on_side[on_side.len().saturating_sub(n)..].to_vec()
                                }
                            };
                            let context = format!("{from:?} {direction:?} {limit} {mutual:?}");
                            assert_eq!(ids(&got), want, "{context}");
                            assert_eq!(got.count, whole.count, "{context}");
                            let beyond = from.is_some() && on_side.len() < keys.len();
                            assert_eq!(got.beyond, beyond, "{context}");
                            let marked: Vec<bool> =
                                got.rows.iter().map(|r| r.relation.connected).collect();
                            let expected: Vec<bool> = want
                                .iter()
                                .map(|id| who.is_some() && viewer_list.contains(*id))
                                .collect();
                            assert_eq!(marked, expected, "{context}");
                        }
                    }
                }
            }
        }
    }
}
