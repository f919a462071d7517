//! A page of connections computed in memory from cached adjacency lists: the same answer as
//! the page statements of `store::pages`, without SQL. The owner's list is already in the
//! API's order, so a page is one pass that marks the mutual connections (membership in the
//! viewer's sorted list), then a skip and a take; no sort, whatever the list's length.

use super::graph::{Adjacency, Requests};
use crate::store::{ConnectionPageRows, PageRow, PageSpec, Relation};

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
        owner
            .ordered
            .iter()
            .zip(&mutual)
            .filter(move |(_, m)| **m == wanted)
            .map(|(id, _)| *id)
    };
    let (count, order): (usize, Box<dyn Iterator<Item = i64>>) = match spec.mutual {
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
            .map(|id| PageRow {
                id,
                user: None,
                relation: viewer.map(|v| v.relation(id)).unwrap_or_default(),
            })
            .collect(),
    };
    ConnectionPageRows {
        count: count as u64,
        rows,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(limit: u64, offset: u64, mutual: Option<bool>) -> PageSpec {
        PageSpec {
            limit,
            offset,
            mutual,
        }
    }

    fn ids(page: &ConnectionPageRows) -> Vec<i64> {
        page.rows.iter().map(|r| r.id).collect()
    }

    #[test]
    fn mutual_first_then_the_owners_order() {
        let owner = Adjacency::new(vec![5, 3, 9, 1, 7]);
        let viewer_list = Adjacency::new(vec![9, 7, 42]);
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
        let owner = Adjacency::new(vec![5, 3]);
        let all = page(&owner, None, spec(10, 0, None));
        assert_eq!(ids(&all), vec![5, 3]);
        assert_eq!(all.rows[0].relation, Relation::default());
        assert_eq!(page(&owner, None, spec(10, 0, Some(true))).count, 0);
    }
}
