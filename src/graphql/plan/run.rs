//! Running a bound plan: load what the operation needs, level by level, each level in one
//! read per kind (users, tags, statuses, pages) whatever the number of users; then write the
//! response in one pass into one buffer.
//!
//! Every check a resolver of the reference makes is made here in the same terms (`core`'s
//! gates, `types::page_arguments`, the `users(ids:)` bound). Where one fails, the request
//! falls back: the reference then answers it, error, path and null propagation included.

use std::collections::HashMap;
use std::sync::Arc;

use super::bind::{
    Bound, EdgeField, InfoField, PageField, PageSel, RootField, TagField, TagSel, UserField,
    UserSel, Window,
};
use super::document::Fallback;
use super::json;
use crate::core::{
    self, Access, ConnectionPage, ConnectionStatus, FriendList, FriendsArgs, FriendsPage,
    FriendsRequest, Offset, PageRequest,
};
use crate::graphql::global_id::{global_id, NodeKind};
use crate::graphql::request::RequestContext;
use crate::graphql::types::{page_arguments, page_count, page_links, user_id, MAX_IDS};
use crate::store::time::api_time;
use crate::store::{TagRecord, UserRecord};

/// What a bound operation read.
struct Loaded {
    access: Access,
    users: HashMap<i64, Arc<UserRecord>>,
    /// Of the root users, when a root selection asks for them.
    tags: HashMap<i64, Vec<TagRecord>>,
    statuses: HashMap<i64, Option<ConnectionStatus>>,
    /// By (selection slot, owner).
    pages: HashMap<(usize, i64), Finished>,
}

/// A page as its selection writes it.
enum Finished {
    /// `connections`, with what its links need.
    Offset {
        page: ConnectionPage,
        next: Option<String>,
        previous: Option<String>,
    },
    /// `friends`.
    Cursor(FriendsPage),
}

/// A user about to be written: what the page or the root read of it.
#[derive(Clone, Copy)]
struct View<'a> {
    id: i64,
    record: Option<&'a UserRecord>,
    tags: Option<&'a [TagRecord]>,
    status: Option<ConnectionStatus>,
}

/// Loads and writes `bound`: the whole response body, or why the reference must answer.
pub async fn run(
    bound: &Bound,
    rc: &RequestContext,
    size_hint: usize,
) -> Result<Vec<u8>, Fallback> {
    let loaded = load(bound, rc).await?;
    let mut out = Vec::with_capacity(size_hint);
    out.extend_from_slice(b"{\"data\":");
    let writer = Writer {
        loaded: &loaded,
        follow: loaded.access.settings.follow_enabled,
    };
    json::object(&mut out, &bound.root, |out, field| writer.root(out, field))?;
    out.push(b'}');
    Ok(out)
}

// ---------------------------------------------------------------------------------------------
// Loading

async fn load(bound: &Bound, rc: &RequestContext) -> Result<Loaded, Fallback> {
    // Checked first, as the reference does: an oversized list costs no SQL.
    let oversized =
        |f: &(_, RootField)| matches!(&f.1, RootField::Users(ids, _) if ids.len() > MAX_IDS);
    if bound.root.iter().any(oversized) {
        return Err(Fallback::Runtime("too many ids"));
    }
    let needs_access = bound
        .root
        .iter()
        .any(|(_, f)| !matches!(f, RootField::Typename));
    let access = match needs_access {
        true => rc
            .access()
            .await
            .map_err(|_| Fallback::Runtime("access refused"))?,
        // Only `__typename`: the reference asks nothing of the database either.
        false => Access {
            viewer: None,
            settings: Default::default(),
        },
    };
    // The root users, and the checks their resolvers make first.
    let mut ids = Vec::new();
    for (_, field) in &bound.root {
        match field {
            RootField::Typename => {}
            RootField::User(id, _) => {
                core::check_content(&access).map_err(|_| Fallback::Runtime("content"))?;
                ids.extend(user_id(id));
            }
            RootField::Users(list, _) => {
                core::check_content(&access).map_err(|_| Fallback::Runtime("content"))?;
                ids.extend(list.iter().filter_map(|id| user_id(id)));
            }
            RootField::Me(_) => ids.extend(access.viewer),
        }
    }
    ids.sort_unstable();
    ids.dedup();
    let failed = |_| Fallback::Runtime("a read failed");
    let users = match ids.is_empty() {
        true => HashMap::new(),
        false => rc.load_users(&ids).await.map_err(failed)?,
    };
    let found: Vec<i64> = ids
        .into_iter()
        .filter(|id| users.contains_key(id))
        .collect();
    let selections = || bound.root.iter().filter_map(|(_, f)| root_selection(f));
    let tags = match !found.is_empty() && selections().any(UserSel::needs_tags) {
        true => rc.load_tags(&found).await.map_err(failed)?,
        false => HashMap::new(),
    };
    let statuses = match !found.is_empty() && selections().any(UserSel::needs_status) {
        true => rc.load_statuses(&found).await.map_err(failed)?,
        false => HashMap::new(),
    };
    let mut loaded = Loaded {
        access,
        users,
        tags,
        statuses,
        pages: HashMap::new(),
    };
    // The pages, level by level.
    let mut wanted: Vec<(&PageSel, i64)> = Vec::new();
    for (_, field) in &bound.root {
        let Some(sel) = root_selection(field) else {
            continue;
        };
        for owner in root_owners(field, &loaded) {
            wanted.extend(sel.pages().map(|page| (page, owner)));
        }
    }
    if !wanted.is_empty() {
        core::check_settings(&loaded.access).map_err(|_| Fallback::Runtime("settings"))?;
    }
    while !wanted.is_empty() {
        wanted = load_level(rc, &mut loaded, wanted).await?;
    }
    Ok(loaded)
}

fn root_selection(field: &RootField) -> Option<&UserSel> {
    match field {
        RootField::Typename => None,
        RootField::User(_, sel) | RootField::Users(_, sel) | RootField::Me(sel) => Some(sel),
    }
}

/// The users a root field answers with (those that exist).
fn root_owners(field: &RootField, loaded: &Loaded) -> Vec<i64> {
    let ids: Vec<i64> = match field {
        RootField::Typename => Vec::new(),
        RootField::User(id, _) => user_id(id).into_iter().collect(),
        RootField::Users(list, _) => list.iter().filter_map(|id| user_id(id)).collect(),
        RootField::Me(_) => loaded.access.viewer.into_iter().collect(),
    };
    ids.into_iter()
        .filter(|id| loaded.users.contains_key(id))
        .collect()
}

/// Loads one level of pages (one batch for all of them) and returns the next level's.
async fn load_level<'b>(
    rc: &RequestContext,
    loaded: &mut Loaded,
    wanted: Vec<(&'b PageSel, i64)>,
) -> Result<Vec<(&'b PageSel, i64)>, Fallback> {
    let mut requests = Vec::with_capacity(wanted.len());
    let mut seen = std::collections::HashSet::with_capacity(wanted.len());
    for (sel, owner) in wanted {
        // A user listed twice at one level has its page read once.
        if loaded.pages.contains_key(&(sel.slot, owner)) || !seen.insert((sel.slot, owner)) {
            continue;
        }
        let with_tags = sel.results().any(UserSel::needs_tags);
        let with_records = sel.results().any(UserSel::needs_record);
        let request = match &sel.window {
            Window::Offset { limit, offset } => {
                let (limit, offset) = page_arguments(rc, *limit, *offset)
                    .map_err(|_| Fallback::Runtime("page arguments"))?;
                let request = PageRequest::new(
                    owner,
                    limit,
                    rc.config.max_limit,
                    Offset::from_u64(offset),
                    sel.mutual,
                );
                Request::Offset(request, offset)
            }
            Window::Cursor {
                first,
                after,
                last,
                before,
            } => {
                let list = FriendList {
                    owner,
                    viewer: loaded.access.viewer,
                    mutual: sel.mutual,
                };
                let args = FriendsArgs {
                    first: first.map(i64::from),
                    after: after.clone(),
                    last: last.map(i64::from),
                    before: before.clone(),
                };
                let request =
                    FriendsRequest::new(list, &args, rc.config.default_limit, rc.config.max_limit)
                        .map_err(|_| Fallback::Runtime("friends arguments"))?;
                Request::Cursor(request)
            }
        };
        let key = match &request {
            Request::Offset(request, _) => request.key(with_tags, with_records),
            Request::Cursor(request) => {
                let counted = sel
                    .fields
                    .iter()
                    .any(|(_, f)| matches!(f, PageField::TotalCount));
                request.key(with_tags, with_records, counted)
            }
        };
        requests.push((sel, owner, request, key));
    }
    let keys: Vec<_> = requests.iter().map(|(_, _, _, key)| *key).collect();
    let rows = rc
        .load_pages(&keys)
        .await
        .map_err(|_| Fallback::Runtime("a read failed"))?;
    let mut next_level = Vec::new();
    for (sel, owner, request, key) in requests {
        // Shared: selections at different places may ask one owner for the same page.
        let rows = rows.get(&key).cloned().unwrap_or_default();
        let (finished, listed): (Finished, Vec<i64>) = match request {
            Request::Offset(request, offset) => {
                let page =
                    ConnectionPage::finish(&request, rows, loaded.access.viewer, key.with_tags);
                let links = sel
                    .fields
                    .iter()
                    .any(|(_, f)| matches!(f, PageField::Next | PageField::Previous));
                let (next, previous) = match links {
                    true => page_links(&page, &rc.link_origin, owner, offset, sel.mutual),
                    false => (None, None),
                };
                let listed = page.listed().map(|l| l.id).collect();
                let finished = Finished::Offset {
                    page,
                    next,
                    previous,
                };
                (finished, listed)
            }
            Request::Cursor(request) => {
                let page = FriendsPage::finish(&request, rows, key.with_tags);
                let listed = page.edges().map(|e| e.id).collect();
                (Finished::Cursor(page), listed)
            }
        };
        for id in listed {
            for results in sel.results() {
                next_level.extend(results.pages().map(|child| (child, id)));
            }
        }
        loaded.pages.insert((sel.slot, owner), finished);
    }
    Ok(next_level)
}

/// A page to read, its arguments checked.
enum Request {
    /// With the offset as the client wrote it (for the links).
    Offset(PageRequest, u64),
    Cursor(FriendsRequest),
}

// ---------------------------------------------------------------------------------------------
// Writing

struct Writer<'a> {
    loaded: &'a Loaded,
    follow: bool,
}

impl Writer<'_> {
    fn root(&self, out: &mut Vec<u8>, field: &RootField) -> Result<(), Fallback> {
        match field {
            RootField::Typename => json::string(out, "Query"),
            RootField::User(id, sel) => self.root_user(out, user_id(id), sel)?,
            RootField::Users(ids, sel) => {
                json::list(out, ids, |out, id| self.root_user(out, user_id(id), sel))?
            }
            RootField::Me(sel) => self.root_user(out, self.loaded.access.viewer, sel)?,
        }
        Ok(())
    }

    /// A user a root field names: null when there is no such user.
    fn root_user(&self, out: &mut Vec<u8>, id: Option<i64>, sel: &UserSel) -> Result<(), Fallback> {
        let Some(record) = id.and_then(|id| self.loaded.users.get(&id)) else {
            json::null(out);
            return Ok(());
        };
        let tags = self.loaded.tags.get(&record.id);
        let view = View {
            id: record.id,
            record: Some(record),
            tags: Some(tags.map_or(&[][..], Vec::as_slice)),
            status: self.loaded.statuses.get(&record.id).copied().flatten(),
        };
        self.user(out, sel, view)
    }

    fn user(&self, out: &mut Vec<u8>, sel: &UserSel, u: View<'_>) -> Result<(), Fallback> {
        json::object(out, &sel.fields, |out, field| {
            match field {
                UserField::Typename => json::string(out, "User"),
                UserField::Id => json::id(out, u.id),
                UserField::Leaf(leaf) => {
                    let record = u.record.ok_or(Fallback::Runtime("a record not read"))?;
                    leaf.write(out, record, self.follow);
                }
                UserField::ConnectionStatus => {
                    json::opt_string(out, u.status.map(status_name));
                }
                UserField::IsConnection => {
                    json::boolean(out, u.status == Some(ConnectionStatus::Connected));
                }
                UserField::Tags(sel) => {
                    let tags = u.tags.ok_or(Fallback::Runtime("tags not read"))?;
                    json::list(out, tags, |out, tag| tag_object(out, sel, tag))?;
                }
                UserField::Connections(page) => self.page(out, page, u.id)?,
                UserField::NodeId => json::string(out, &global_id(NodeKind::User, u.id).0),
            }
            Ok(())
        })
    }

    fn page(&self, out: &mut Vec<u8>, sel: &PageSel, owner: i64) -> Result<(), Fallback> {
        let finished = self
            .loaded
            .pages
            .get(&(sel.slot, owner))
            .ok_or(Fallback::Runtime("a page not read"))?;
        match finished {
            Finished::Offset {
                page,
                next,
                previous,
            } => self.offset_page(out, sel, page, next, previous),
            Finished::Cursor(page) => self.cursor_page(out, sel, page),
        }
    }

    fn offset_page(
        &self,
        out: &mut Vec<u8>,
        sel: &PageSel,
        page: &ConnectionPage,
        next: &Option<String>,
        previous: &Option<String>,
    ) -> Result<(), Fallback> {
        json::object(out, &sel.fields, |out, field| {
            match field {
                PageField::Typename => json::string(out, "UserConnectionPage"),
                PageField::Count => json::int(out, page_count(page.count).into()),
                PageField::Next => json::opt_string(out, next.as_deref()),
                PageField::Previous => json::opt_string(out, previous.as_deref()),
                PageField::Results(results) => {
                    json::list(out, page.listed(), |out, listed| {
                        let view = View {
                            id: listed.id,
                            record: listed.record.map(|r| &**r),
                            tags: listed.tags,
                            status: listed.status,
                        };
                        self.user(out, results, view)
                    })?;
                }
                _ => return Err(Fallback::Runtime("a friends field on connections")),
            }
            Ok(())
        })
    }

    fn cursor_page(
        &self,
        out: &mut Vec<u8>,
        sel: &PageSel,
        page: &FriendsPage,
    ) -> Result<(), Fallback> {
        json::object(out, &sel.fields, |out, field| {
            match field {
                PageField::Typename => json::string(out, "FriendConnection"),
                PageField::TotalCount => json::int(out, page_count(page.total_count).into()),
                PageField::Nodes(nodes) => {
                    json::list(out, page.edges(), |out, edge| {
                        self.user(out, nodes, edge_view(&edge))
                    })?;
                }
                PageField::Edges(fields) => {
                    json::list(out, page.edges(), |out, edge| {
                        json::object(out, fields, |out, field| {
                            match field {
                                EdgeField::Typename => json::string(out, "FriendEdge"),
                                EdgeField::Cursor => json::string(out, &edge.cursor),
                                EdgeField::ConnectedAt => {
                                    json::string(out, &api_time(edge.connected_at_us))
                                }
                                EdgeField::IsMutual => json::boolean(out, edge.is_mutual),
                                EdgeField::Node(node) => self.user(out, node, edge_view(&edge))?,
                            }
                            Ok(())
                        })
                    })?;
                }
                PageField::PageInfo(fields) => {
                    let info = &page.page_info;
                    json::object(out, fields, |out, field| {
                        match field {
                            InfoField::Typename => json::string(out, "PageInfo"),
                            InfoField::HasNextPage => json::boolean(out, info.has_next_page),
                            InfoField::HasPreviousPage => {
                                json::boolean(out, info.has_previous_page)
                            }
                            InfoField::StartCursor => {
                                json::opt_string(out, info.start_cursor.as_deref())
                            }
                            InfoField::EndCursor => {
                                json::opt_string(out, info.end_cursor.as_deref())
                            }
                        }
                        Ok::<(), Fallback>(())
                    })?;
                }
                _ => return Err(Fallback::Runtime("a connections field on friends")),
            }
            Ok(())
        })
    }
}

/// A user a cursor page lists, as the writer takes it.
fn edge_view<'a>(edge: &core::FriendEdge<'a>) -> View<'a> {
    View {
        id: edge.id,
        record: edge.record.map(|r| &**r),
        tags: edge.tags,
        status: edge.status,
    }
}

fn tag_object(out: &mut Vec<u8>, sel: &TagSel, tag: &TagRecord) -> Result<(), Fallback> {
    json::object(out, &sel.fields, |out, field| {
        match field {
            TagField::Typename => json::string(out, "Tag"),
            TagField::Leaf(leaf) => leaf.write(out, tag),
        }
        Ok(())
    })
}

/// The enum value as the schema spells it (the derived `Enum`'s own table).
fn status_name(status: ConnectionStatus) -> &'static str {
    use async_graphql::resolver_utils::EnumType;
    ConnectionStatus::items()
        .iter()
        .find(|item| item.value == status)
        .map_or("", |item| item.name)
}
