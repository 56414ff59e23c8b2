//! The dashboard as one consumer of the `tabrelay` library: the options it shares the stream
//! with (from the page's query), and the handlers that fill its [`DashboardData`].

use crate::data::DashboardData;
use crate::model::event_name;
use tabrelay::{use_shared_event_source, Election, Mode, Options, SharedEventSource};

/// The stream and the data of one dashboard tab.
#[derive(Clone, Copy)]
pub struct Dashboard {
    pub source: SharedEventSource,
    pub data: DashboardData,
}

/// The dashboard's options for the page's `?election=` and `?mode=`: the device events and the
/// server's counters, the default names, the sharded mode's ports from `/api/stats`.
pub fn options(election: Election, mode: Mode) -> Options {
    Options::new("/api/events")
        .events([
            event_name::DEVICE_ONLINE,
            event_name::DEVICE_OFFLINE,
            event_name::STATS,
        ])
        .election(election)
        .mode(mode)
        .shard_ports_url("/api/stats")
}

/// Shares the stream (after hydration) and fills the dashboard's data from it.
pub fn use_dashboard(election: Election, mode: Mode) -> Dashboard {
    let data = DashboardData::new();
    #[cfg(feature = "hydrate")]
    let options =
        options(election, mode).on_resync(move |reason| crate::browser::resync(data, reason));
    #[cfg(not(feature = "hydrate"))]
    let options = options(election, mode);
    let source = use_shared_event_source(options);
    #[cfg(feature = "hydrate")]
    crate::browser::fill(source, data);
    Dashboard { source, data }
}

/// The page's query string without the `?`: from the request on the server, from
/// `location.search` in the browser (read directly: a router for one page costs bundle size).
pub fn page_query() -> String {
    #[cfg(feature = "ssr")]
    {
        leptos::prelude::use_context::<http::request::Parts>()
            .and_then(|parts| parts.uri.query().map(str::to_owned))
            .unwrap_or_default()
    }
    #[cfg(all(feature = "hydrate", not(feature = "ssr")))]
    {
        web_sys::window()
            .and_then(|w| w.location().search().ok())
            .map(|search| search.trim_start_matches('?').to_owned())
            .unwrap_or_default()
    }
    #[cfg(not(any(feature = "ssr", feature = "hydrate")))]
    {
        String::new()
    }
}

/// The first value of `key` in `query` (`a=1&b=2`). Values are not percent-decoded: the ones
/// read here (`election`, `mode`) are plain words.
pub fn query_value<'q>(query: &'q str, key: &str) -> Option<&'q str> {
    query.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        (k == key).then_some(v)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_values_are_found_by_key() {
        assert_eq!(
            query_value("election=protocol&mode=naive", "mode"),
            Some("naive")
        );
        assert_eq!(
            query_value("election=protocol", "election"),
            Some("protocol")
        );
        assert_eq!(query_value("modes=naive", "mode"), None);
        assert_eq!(query_value("", "mode"), None);
        assert_eq!(query_value("mode", "mode"), Some(""));
        assert_eq!(
            Mode::from_query(query_value("mode=naive", "mode")),
            Mode::Naive
        );
    }

    #[test]
    fn the_dashboard_listens_for_its_events_and_the_protocols() {
        let names = options(Election::Auto, Mode::Leader).listened_names();
        assert_eq!(
            names,
            ["device-online", "device-offline", "stats", "hello", "reset"]
        );
    }
}
