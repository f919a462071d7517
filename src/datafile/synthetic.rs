//! Made-up communities: `synthetic` for load tests and benchmarks, `demo` for a first start.
//!
//! Both are deterministic (ChaCha8 from a seed), so a benchmark or a screenshot can be
//! reproduced exactly. Friendships are skewed the way real communities are: each connection
//! picks its ends half of the time uniformly and half of the time with a weight falling as
//! 1/sqrt(rank), so a few members have hundreds or thousands of connections while most have
//! a handful. User 1 always has rank 0 (a community manager is usually the best connected).
//! Everything comes out in export order with canonical times, so importing a synthetic
//! community and exporting it gives back the same text.

use std::collections::HashSet;

use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::file::{AccessToken, CommunityFile, Connection, ConnectionRequest, Gender, Tag, User};
use crate::store::time::{file_time, parse_rfc3339_us};
use crate::store::Settings;

/// The opaque access token of the demo community's user 1 (`alice`).
pub const DEMO_TOKEN: &str = "demo-token-alice";

/// The seed and size of the demo community.
const DEMO_SEED: u64 = 2026;
const DEMO_USERS: u64 = 1000;
const DEMO_AVG_DEGREE: u32 = 30;

/// 2019-01-01T00:00:00Z, 2025-01-01T00:00:00Z and 2025-07-01T00:00:00Z, in seconds.
const JOIN_START: i64 = 1_546_300_800;
const JOIN_END: i64 = 1_735_689_600;
const ACTIVITY_END: i64 = 1_751_328_000;
const DAY: i64 = 86_400;

/// Share of connection ends picked by popularity rather than uniformly.
const POPULAR_SHARE: f64 = 0.5;

/// A deterministic community of `users` members whose average number of connections is
/// `avg_degree` (so `users * avg_degree / 2` connections, fewer only if that many pairs do not
/// exist), with five tags and some pending requests between members who are not connected.
pub fn synthetic(users: u64, avg_degree: u32, seed: u64) -> CommunityFile {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let people = make_users(users, &mut rng);
    let joined: Vec<i64> = (0..users).map(|i| joined_at(i, users, &mut rng)).collect();
    let mut people: Vec<User> = people
        .into_iter()
        .zip(&joined)
        .map(|(mut user, at)| {
            user.date_joined = file_time(at * 1_000_000);
            user
        })
        .collect();
    if let Some(first) = people.first_mut() {
        first.tags = vec![1, 3];
    }
    let popularity = Popularity::new(users, &mut rng);
    let pairs = connect(users, avg_degree, &popularity, &mut rng);
    let connections = pairs
        .iter()
        .map(|&(a, b)| Connection {
            users: [a, b],
            connected_at: since_both(&joined, a, b, &mut rng),
        })
        .collect();
    let requests = pending_requests(users, &pairs, &popularity, &joined, &mut rng);
    CommunityFile {
        settings: Settings::default(),
        tags: tags(),
        users: people,
        connections,
        connection_requests: requests,
        access_tokens: Vec::new(),
    }
}

/// The community seeded on first start: about a thousand members with Italian and
/// international names, five tags (one invisible, one inactive), connections, pending
/// requests, default settings, and the access token `DEMO_TOKEN` for user 1, `alice`, who is
/// the best connected member and has requests both sent and received.
pub fn demo() -> CommunityFile {
    let mut file = synthetic(DEMO_USERS, DEMO_AVG_DEGREE, DEMO_SEED);
    if let Some(alice) = file.users.first_mut() {
        alice.username = "alice".into();
        alice.real_name = "Alice Rossi".into();
        alice.gender = Gender::Female;
        alice.avatar = Some("https://cdn.example.com/avatars/alice.png".into());
        alice.bio = "Community manager".into();
        alice.location = "Udine".into();
        alice.location_lat_lng = Some("46.0711,13.2346".into());
        alice.community_badge = true;
        alice.deleted = false;
        alice.reg_approved = true;
    }
    add_alice_requests(&mut file);
    file.access_tokens.push(AccessToken {
        token: Some(DEMO_TOKEN.into()),
        token_sha256: None,
        user_id: 1,
        expires_at: "2099-01-01T00:00:00Z".into(),
    });
    file
}

/// Three requests from alice and three to her, with members she is not connected to.
fn add_alice_requests(file: &mut CommunityFile) {
    let linked: HashSet<i64> = file
        .connections
        .iter()
        .filter(|c| c.users[0] == 1)
        .map(|c| c.users[1])
        .chain(
            file.connection_requests
                .iter()
                .filter(|r| r.from == 1 || r.to == 1)
                .map(|r| if r.from == 1 { r.to } else { r.from }),
        )
        .collect();
    let strangers = file
        .users
        .iter()
        .map(|u| u.id)
        .filter(|id| *id != 1 && !linked.contains(id))
        .take(6);
    for (i, other) in strangers.enumerate() {
        let (from, to) = if i < 3 { (1, other) } else { (other, 1) };
        file.connection_requests.push(ConnectionRequest {
            id: None,
            from,
            to,
            created_at: file_time((ACTIVITY_END - (i as i64 + 1) * DAY) * 1_000_000),
            rejected_at: None,
            viewed_at: None,
        });
    }
    number_requests(&mut file.connection_requests);
}

/// Numbers `requests` from 1 in the order a server would have created them (`created_at`,
/// then sender, then recipient: the order the migration numbers existing rows in), which is
/// also the order `export` writes them in.
fn number_requests(requests: &mut [ConnectionRequest]) {
    requests.sort_by_cached_key(|r| (parse_rfc3339_us(&r.created_at).unwrap_or(0), r.from, r.to));
    for (request, id) in requests.iter_mut().zip(1..) {
        request.id = Some(id);
    }
}

fn tags() -> Vec<Tag> {
    let spec: [(&str, &str, &str, bool, bool, bool); 5] = [
        ("Moderator", "Keeps the peace", "#3366ff", true, false, true),
        (
            "Beta tester",
            "Tries new features first",
            "#22aa55",
            true,
            true,
            true,
        ),
        (
            "Staff",
            "Internal: not shown to members",
            "#999999",
            false,
            false,
            true,
        ),
        ("Founder", "Here from day one", "#d4af37", true, false, true),
        ("Legacy", "Retired programme", "#aa5500", true, false, false),
    ];
    spec.iter()
        .enumerate()
        .map(
            |(i, (name, description, color, visible, boost, active))| Tag {
                id: i as i64 + 1,
                kind: "user".into(),
                name: (*name).into(),
                description: (*description).into(),
                color: (*color).into(),
                visible: *visible,
                visibility_boost: *boost,
                active: *active,
                deleted: false,
                created_at: file_time((JOIN_START + i as i64 * DAY) * 1_000_000),
            },
        )
        .collect()
}

/// When member `i` (0-based) joined, in seconds: spread over six years in id order, with
/// a few hours of jitter.
fn joined_at(i: u64, users: u64, rng: &mut ChaCha8Rng) -> i64 {
    let span = (JOIN_END - JOIN_START) as f64;
    let base = JOIN_START + (span * i as f64 / users.max(1) as f64) as i64;
    (base + rng.gen_range(0..6 * 3600)).min(JOIN_END)
}

/// A time after both `a` and `b` joined: seconds, sometimes milliseconds, sometimes exactly
/// midnight (so that several connections of a user share an instant and ties get exercised).
fn since_both(joined: &[i64], a: i64, b: i64, rng: &mut ChaCha8Rng) -> String {
    let start = joined[(a - 1) as usize].max(joined[(b - 1) as usize]);
    let seconds = rng.gen_range(start..=ACTIVITY_END.max(start));
    let roll: f64 = rng.gen();
    let us = if roll < 0.05 {
        (seconds.div_euclid(DAY) + 1) * DAY * 1_000_000
    } else if roll < 0.15 {
        seconds * 1_000_000 + rng.gen_range(1..1000) * 1000
    } else {
        seconds * 1_000_000
    };
    file_time(us)
}

/// Who is picked as the end of a connection: uniformly, or by a 1/sqrt(rank) weight.
struct Popularity {
    users: u64,
    /// Cumulative weights by rank.
    cumulative: Vec<f64>,
    /// The user id at each rank; rank 0 is user 1.
    by_rank: Vec<i64>,
}

impl Popularity {
    fn new(users: u64, rng: &mut ChaCha8Rng) -> Popularity {
        let mut by_rank: Vec<i64> = (2..=users as i64).collect();
        by_rank.shuffle(rng);
        if users > 0 {
            by_rank.insert(0, 1);
        }
        let mut total = 0.0;
        let cumulative = (0..users)
            .map(|rank| {
                total += 1.0 / ((rank + 1) as f64).sqrt();
                total
            })
            .collect();
        Popularity {
            users,
            cumulative,
            by_rank,
        }
    }

    fn uniform(&self, rng: &mut ChaCha8Rng) -> i64 {
        rng.gen_range(1..=self.users as i64)
    }

    fn popular(&self, rng: &mut ChaCha8Rng) -> i64 {
        let total = self.cumulative.last().copied().unwrap_or(0.0);
        let x = rng.gen::<f64>() * total;
        let rank = self.cumulative.partition_point(|c| *c < x);
        self.by_rank[rank.min(self.by_rank.len() - 1)]
    }

    fn pick(&self, rng: &mut ChaCha8Rng) -> i64 {
        if rng.gen::<f64>() < POPULAR_SHARE {
            self.popular(rng)
        } else {
            self.uniform(rng)
        }
    }
}

/// The connected pairs, `(smaller, larger)`, sorted.
fn connect(
    users: u64,
    avg_degree: u32,
    popularity: &Popularity,
    rng: &mut ChaCha8Rng,
) -> Vec<(i64, i64)> {
    let possible = u128::from(users) * u128::from(users.saturating_sub(1)) / 2;
    let wanted = (u128::from(users) * u128::from(avg_degree) / 2).min(possible) as usize;
    if wanted == 0 {
        return Vec::new();
    }
    // Dense graphs: sampling would mostly hit taken pairs, so choose among all pairs.
    if (wanted as u128) * 2 > possible {
        return choose_among_all_pairs(users, wanted, rng);
    }
    let mut taken: HashSet<(i64, i64)> = HashSet::with_capacity(wanted);
    let mut pairs = Vec::with_capacity(wanted);
    // Popular members saturate in small communities: fall back to uniform ends after a while.
    let patience = wanted.saturating_mul(20);
    let mut attempts = 0usize;
    while pairs.len() < wanted {
        attempts += 1;
        let a = popularity.pick(rng);
        let b = if attempts < patience {
            popularity.pick(rng)
        } else {
            popularity.uniform(rng)
        };
        if a != b && taken.insert((a.min(b), a.max(b))) {
            pairs.push((a.min(b), a.max(b)));
        }
    }
    pairs.sort_unstable();
    pairs
}

fn choose_among_all_pairs(users: u64, wanted: usize, rng: &mut ChaCha8Rng) -> Vec<(i64, i64)> {
    let n = users as i64;
    let mut all: Vec<(i64, i64)> = (1..=n)
        .flat_map(|a| (a + 1..=n).map(move |b| (a, b)))
        .collect();
    all.shuffle(rng);
    all.truncate(wanted);
    all.sort_unstable();
    all
}

/// About one pending request per eight members, from anyone to (often) popular members,
/// never between connected members, at most one per ordered pair.
fn pending_requests(
    users: u64,
    pairs: &[(i64, i64)],
    popularity: &Popularity,
    joined: &[i64],
    rng: &mut ChaCha8Rng,
) -> Vec<ConnectionRequest> {
    if users < 2 {
        return Vec::new();
    }
    let connected: HashSet<(i64, i64)> = pairs.iter().copied().collect();
    let wanted = (users / 8) as usize;
    let mut seen = HashSet::with_capacity(wanted);
    let mut requests = Vec::with_capacity(wanted);
    let mut attempts = 0usize;
    while requests.len() < wanted && attempts < wanted.saturating_mul(50) {
        attempts += 1;
        let from = popularity.uniform(rng);
        let to = popularity.pick(rng);
        if from == to
            || connected.contains(&(from.min(to), from.max(to)))
            || !seen.insert((from, to))
        {
            continue;
        }
        let start = joined[(from - 1) as usize].max(joined[(to - 1) as usize]);
        let at = rng.gen_range(start..=ACTIVITY_END.max(start));
        requests.push(ConnectionRequest {
            id: None,
            from,
            to,
            created_at: file_time(at * 1_000_000),
            rejected_at: None,
            viewed_at: None,
        });
    }
    number_requests(&mut requests);
    requests
}

fn make_users(users: u64, rng: &mut ChaCha8Rng) -> Vec<User> {
    let mut usernames: HashSet<String> = HashSet::with_capacity(users as usize);
    (1..=users as i64)
        .map(|id| make_user(id, rng, &mut usernames))
        .collect()
}

fn make_user(id: i64, rng: &mut ChaCha8Rng, usernames: &mut HashSet<String>) -> User {
    let words = names::words();
    let italian = rng.gen_bool(0.65);
    let female = rng.gen_bool(0.5);
    let first = pick(rng, names::first(italian, female));
    let last = pick(
        rng,
        if italian {
            &words.italian_last
        } else {
            &words.international_last
        },
    );
    let mut username = format!("{}.{}", ascii_fold(first), ascii_fold(last));
    if !usernames.insert(username.clone()) {
        // Base names hold no digits, so a suffixed name never meets a base name.
        username = format!("{username}{id}");
        usernames.insert(username.clone());
    }
    let city = rng.gen_bool(0.5).then(|| pick(rng, &words.cities));
    let posts = (rng.gen::<f64>().powi(3) * 500.0) as i64;
    let discussions = (rng.gen::<f64>().powi(3) * 100.0) as i64;
    let has = |rng: &mut ChaCha8Rng, p: f64| rng.gen_bool(p);
    let mut user = User {
        id,
        real_name: if has(rng, 0.95) {
            format!("{first} {last}")
        } else {
            String::new()
        },
        avatar: has(rng, 0.75).then(|| format!("https://cdn.example.com/avatars/{username}.png")),
        ext_id: has(rng, 0.25).then_some(10_000 + id),
        followings_counter: rng.gen_range(0..60),
        followers_counter: rng.gen_range(0..60),
        posts_counter: posts,
        discussions_counter: discussions,
        polls_counter: if has(rng, 0.2) {
            rng.gen_range(1..8)
        } else {
            0
        },
        categories_counter: rng.gen_range(0..=10),
        date_joined: String::new(),
        bio: if has(rng, 0.3) {
            pick(rng, &words.bios).to_string()
        } else {
            String::new()
        },
        location: city.map(|c| c.0.to_string()).unwrap_or_default(),
        location_lat_lng: city.map(|c| c.1.to_string()),
        position_lat_lng: has(rng, 0.1).then(|| random_position(rng)),
        date_of_birth: has(rng, 0.4).then(|| birth_date(rng)),
        description: if has(rng, 0.1) {
            pick(rng, &words.descriptions).to_string()
        } else {
            String::new()
        },
        gender: if has(rng, 0.15) {
            Gender::Unspecified
        } else if female {
            Gender::Female
        } else {
            Gender::Male
        },
        website: if has(rng, 0.08) {
            format!("https://www.example.com/{username}")
        } else {
            String::new()
        },
        cover: has(rng, 0.12).then(|| format!("https://cdn.example.com/covers/{username}.jpg")),
        reputation: posts * 3 + discussions * 5 + rng.gen_range(0..50),
        community_badge: has(rng, 0.03),
        reg_approved: has(rng, 0.97),
        deleted: has(rng, 0.01),
        company_name: String::new(),
        company_role: String::new(),
        tags: random_tags(rng),
        username,
    };
    // One member in five names an employer and a role.
    if rng.gen_bool(0.2) {
        user.company_name = pick(rng, &words.companies).to_string();
        user.company_role = pick(rng, &words.roles).to_string();
    }
    user
}

fn random_tags(rng: &mut ChaCha8Rng) -> Vec<i64> {
    [(1, 0.01), (2, 0.05), (3, 0.005), (4, 0.002), (5, 0.03)]
        .into_iter()
        .filter(|(_, p)| rng.gen_bool(*p))
        .map(|(id, _)| id)
        .collect()
}

fn random_position(rng: &mut ChaCha8Rng) -> String {
    let (_, lat_lng) = pick(rng, &names::words().cities);
    let (lat, lng) = lat_lng.split_once(',').unwrap_or(("45.0", "9.0"));
    let jitter = |rng: &mut ChaCha8Rng| rng.gen_range(-0.05..0.05);
    let lat = lat.parse::<f64>().unwrap_or(45.0) + jitter(rng);
    let lng = lng.parse::<f64>().unwrap_or(9.0) + jitter(rng);
    format!("{lat:.4},{lng:.4}")
}

fn birth_date(rng: &mut ChaCha8Rng) -> String {
    format!(
        "{:04}-{:02}-{:02}",
        rng.gen_range(1950..=2006),
        rng.gen_range(1..=12),
        rng.gen_range(1..=28)
    )
}

fn pick<T: Copy>(rng: &mut ChaCha8Rng, items: &[T]) -> T {
    items[rng.gen_range(0..items.len())]
}

/// A name as username material: lower-case ASCII letters only (`Nicolò D'Amico` → `nicolo`,
/// `damico`).
fn ascii_fold(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for c in name.to_lowercase().chars() {
        let folded = match c {
            'à' | 'á' | 'â' | 'ä' | 'å' | 'ã' => "a",
            'è' | 'é' | 'ê' | 'ë' => "e",
            'ì' | 'í' | 'î' | 'ï' => "i",
            'ò' | 'ó' | 'ô' | 'ö' | 'ø' | 'õ' => "o",
            'ù' | 'ú' | 'û' | 'ü' => "u",
            'ç' | 'ć' => "c",
            'ñ' | 'ń' => "n",
            'ß' => "ss",
            'ł' => "l",
            'ś' | 'š' => "s",
            'ż' | 'ž' => "z",
            c if c.is_ascii_lowercase() => {
                out.push(c);
                continue;
            }
            _ => "",
        };
        out.push_str(folded);
    }
    out
}

mod names {
    use std::collections::HashMap;
    use std::sync::LazyLock;

    /// The lists themselves, one section per list; the file's header gives the format.
    const DATA: &str = include_str!("synthetic_words.txt");

    static WORDS: LazyLock<Words> = LazyLock::new(|| Words::parse(DATA));

    pub struct Words {
        pub italian_female: Vec<&'static str>,
        pub italian_male: Vec<&'static str>,
        pub international_female: Vec<&'static str>,
        pub international_male: Vec<&'static str>,
        pub italian_last: Vec<&'static str>,
        pub international_last: Vec<&'static str>,
        /// (name, "lat,lng").
        pub cities: Vec<(&'static str, &'static str)>,
        pub bios: Vec<&'static str>,
        pub descriptions: Vec<&'static str>,
        pub companies: Vec<&'static str>,
        pub roles: Vec<&'static str>,
    }

    impl Words {
        /// Parses the compiled-in lists; a malformed file is a build defect, so it panics.
        fn parse(data: &'static str) -> Words {
            let mut sections: HashMap<&str, Vec<&str>> = HashMap::new();
            let mut current: Option<&str> = None;
            for line in data.lines() {
                if line.is_empty() || line.starts_with('#') {
                    continue;
                }
                if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
                    assert!(
                        sections.insert(name, Vec::new()).is_none(),
                        "synthetic_words.txt: section [{name}] appears twice"
                    );
                    current = Some(name);
                    continue;
                }
                let name =
                    current.expect("synthetic_words.txt: an entry before the first [section]");
                sections.entry(name).or_default().push(line);
            }
            let mut take = |name: &str| {
                let list = sections
                    .remove(name)
                    .unwrap_or_else(|| panic!("synthetic_words.txt: no [{name}] section"));
                assert!(!list.is_empty(), "synthetic_words.txt: [{name}] is empty");
                list
            };
            let words = Words {
                italian_female: take("italian_female"),
                italian_male: take("italian_male"),
                international_female: take("international_female"),
                international_male: take("international_male"),
                italian_last: take("italian_last"),
                international_last: take("international_last"),
                cities: take("cities")
                    .into_iter()
                    .map(|line| {
                        line.split_once('|').unwrap_or_else(|| {
                            panic!("synthetic_words.txt: city {line:?} is not name|lat,lng")
                        })
                    })
                    .collect(),
                bios: take("bios"),
                descriptions: take("descriptions"),
                companies: take("companies"),
                roles: take("roles"),
            };
            let unknown: Vec<&str> = sections.into_keys().collect();
            assert!(
                unknown.is_empty(),
                "synthetic_words.txt: unknown sections {unknown:?}"
            );
            words
        }
    }

    pub fn words() -> &'static Words {
        &WORDS
    }

    pub fn first(italian: bool, female: bool) -> &'static [&'static str] {
        let words = words();
        match (italian, female) {
            (true, true) => &words.italian_female,
            (true, false) => &words.italian_male,
            (false, true) => &words.international_female,
            (false, false) => &words.international_male,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn word_lists_load() {
        let words = names::words();
        let lists = [
            &words.italian_female,
            &words.italian_male,
            &words.international_female,
            &words.international_male,
            &words.italian_last,
            &words.international_last,
        ];
        for name in lists.into_iter().flatten() {
            assert!(!ascii_fold(name).is_empty(), "{name} gives no username");
        }
        for (city, lat_lng) in &words.cities {
            let (lat, lng) = lat_lng.split_once(',').unwrap_or_default();
            assert!(
                lat.parse::<f64>().is_ok() && lng.parse::<f64>().is_ok(),
                "{city}"
            );
        }
    }

    #[test]
    fn names_fold_to_ascii() {
        assert_eq!(ascii_fold("Nicolò"), "nicolo");
        assert_eq!(ascii_fold("D'Angelo"), "dangelo");
        assert_eq!(ascii_fold("De Luca"), "deluca");
        assert_eq!(ascii_fold("Søren"), "soren");
    }

    #[test]
    fn tiny_and_dense_communities_work() {
        assert!(synthetic(0, 10, 1).users.is_empty());
        assert!(synthetic(1, 10, 1).connections.is_empty());
        let dense = synthetic(5, 100, 1);
        assert_eq!(dense.connections.len(), 10);
    }

    #[test]
    fn degrees_are_skewed_and_average_as_asked() {
        let file = synthetic(2000, 20, 7);
        assert_eq!(file.connections.len(), 20_000);
        let mut degree = vec![0u32; 2001];
        for c in &file.connections {
            degree[c.users[0] as usize] += 1;
            degree[c.users[1] as usize] += 1;
        }
        let max = *degree.iter().max().unwrap();
        assert!(max >= 150, "max degree {max}");
        assert_eq!(degree[1], max, "user 1 is the best connected");
    }
}
