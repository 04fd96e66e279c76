//! halopsa.tickettype.get-many: lists the ticket types, optionally those whose name contains Search.
//!
//! Rules (reference 4.7: `GET /TicketType` answers a bare array of `{id, name, ...}`):
//! - One `GET /TicketType`; Search is applied here, a contains match on the name ignoring case
//!   ([`psaflow_kit::lookups`]).
//! - Output `TicketTypes`: `{"tickettypes": [...], "record_count": N}` with ids as integers, so a
//!   workflow can find "Incident" by name and pass its id as TickettypeId; `{}` on failure.

#![cfg_attr(not(test), no_std)]

psaflow_kit::bind_node!("tickettype-get-many");

use psaflow_kit::describe::{self, Effect};
use psaflow_kit::envelope;
use psaflow_kit::lookups;
use psaflow_kit::paging::TICKET_TYPES;

const OUTPUT: &str = "TicketTypes";

struct Node;

impl Guest for Node {
    fn describe() -> NodeInfo {
        describe::node(OUTPUT, Effect::Read)
            .calls("GET", TICKET_TYPES.path)
            .into()
    }

    fn run(input: GetManyInput) -> Envelope {
        let listed = lookups::get_many(&TICKET_TYPES, input.search.as_deref(), lookups::as_is);
        envelope::respond(OUTPUT, listed, |_| envelope::empty_object())
    }
}

export!(Node);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn declares_a_read_of_the_ticket_type_list_only() {
        let info = Node::describe();
        assert_eq!(info.output_key, "TicketTypes");
        assert!(matches!(info.effect, Effect::Read));
        assert!(info.idempotent);
        assert!(info.natural_key.is_empty());
        let calls: Vec<(&str, &str)> = info
            .capabilities
            .iter()
            .map(|c| (c.method.as_str(), c.path_prefix.as_str()))
            .collect();
        assert_eq!(calls, [("GET", "/TicketType")]);
    }
}
