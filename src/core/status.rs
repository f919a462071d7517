//! The viewer-relative connection status of a listed user.

use crate::store::Relation;

/// How a listed user relates to the viewer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, async_graphql::Enum)]
#[graphql(rename_items = "SCREAMING_SNAKE_CASE")]
pub enum ConnectionStatus {
    /// The user and the viewer are connected.
    Connected,
    /// The viewer has sent the user a connection request that is still pending.
    SentConnectionRequest,
    /// The user has sent the viewer a connection request that is still pending.
    ReceivedConnectionRequest,
}

impl ConnectionStatus {
    /// The rule of `docs/rest.md` ("connection_status"): the first that holds of anonymous/self (none), connected, sent,
    /// received; otherwise none.
    pub fn of(viewer: Option<i64>, user: i64, relation: Relation) -> Option<ConnectionStatus> {
        match viewer {
            None => None,
            Some(v) if v == user => None,
            Some(_) if relation.connected => Some(ConnectionStatus::Connected),
            Some(_) if relation.sent_request => Some(ConnectionStatus::SentConnectionRequest),
            Some(_) if relation.received_request => {
                Some(ConnectionStatus::ReceivedConnectionRequest)
            }
            Some(_) => None,
        }
    }

    /// The code stored with a connection event (`connection_events.target_status`).
    pub fn code(self) -> i16 {
        match self {
            ConnectionStatus::Connected => 1,
            ConnectionStatus::SentConnectionRequest => 2,
            ConnectionStatus::ReceivedConnectionRequest => 3,
        }
    }

    /// The status a stored code names (an unknown code: none).
    pub fn from_code(code: i16) -> Option<ConnectionStatus> {
        match code {
            1 => Some(ConnectionStatus::Connected),
            2 => Some(ConnectionStatus::SentConnectionRequest),
            3 => Some(ConnectionStatus::ReceivedConnectionRequest),
            _ => None,
        }
    }

    /// The REST spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            ConnectionStatus::Connected => "connected",
            ConnectionStatus::SentConnectionRequest => "sent_connection_request",
            ConnectionStatus::ReceivedConnectionRequest => "received_connection_request",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_priority() {
        let all = Relation {
            connected: true,
            sent_request: true,
            received_request: true,
        };
        assert_eq!(ConnectionStatus::of(None, 2, all), None);
        assert_eq!(ConnectionStatus::of(Some(2), 2, all), None);
        assert_eq!(
            ConnectionStatus::of(Some(1), 2, all),
            Some(ConnectionStatus::Connected)
        );
        let both = Relation {
            sent_request: true,
            received_request: true,
            ..Default::default()
        };
        assert_eq!(
            ConnectionStatus::of(Some(1), 2, both),
            Some(ConnectionStatus::SentConnectionRequest)
        );
        let received = Relation {
            received_request: true,
            ..Default::default()
        };
        assert_eq!(
            ConnectionStatus::of(Some(1), 2, received),
            Some(ConnectionStatus::ReceivedConnectionRequest)
        );
        assert_eq!(ConnectionStatus::of(Some(1), 2, Relation::default()), None);
    }
}
