//! A few pretend devices that go online and offline, so the page has something to show.
//!
//! Deterministic for a given seed: a tiny SplitMix64 generator (no dependency whose output
//! could change between versions) picks the initial states and which device toggles each tick.

use std::sync::Arc;
use std::time::Duration;

use tokio::time::{Instant, MissedTickBehavior};
use tokio_util::sync::CancellationToken;
use wire::model::DeviceEventKind;

use crate::bus::Bus;
use crate::hub::Hub;

const KINDS: [&str; 6] = ["lamp", "sensor", "door", "camera", "thermostat", "plug"];

/// SplitMix64 (Steele, Lea, Flood 2014): small, fast, and fixed forever.
#[derive(Debug, Clone)]
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// The pure part: device names, initial states, and which device changes next.
#[derive(Debug, Clone)]
pub struct Simulator {
    devices: Vec<String>,
    rng: SplitMix64,
}

impl Simulator {
    pub fn new(count: usize, seed: u64) -> Self {
        let devices = (0..count)
            .map(|i| format!("{}-{:02}", KINDS[i % KINDS.len()], i + 1))
            .collect();
        Self {
            devices,
            rng: SplitMix64(seed),
        }
    }

    pub fn devices(&self) -> &[String] {
        &self.devices
    }

    /// Initial online state of every device.
    pub fn initial_states(&mut self) -> Vec<(String, bool)> {
        let devices = self.devices.clone();
        devices
            .into_iter()
            .map(|d| (d, self.rng.next() & 1 == 1))
            .collect()
    }

    /// The device that toggles next.
    pub fn next_device(&mut self) -> &str {
        let i = self.rng.below(self.devices.len());
        &self.devices[i]
    }
}

/// Adds the devices that do not exist yet (a new run of the log starts without them).
async fn register(bus: &dyn Bus, population: &[(String, bool)]) -> bool {
    match bus.register_devices(population.to_vec()).await {
        Ok(()) => true,
        Err(e) => {
            tracing::warn!(error = %e, "simulator could not register its devices");
            false
        }
    }
}

/// A seed from the clock, for runs without `TABRELAY_SIM_SEED`.
pub fn random_seed() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0x5EED)
}

/// Registers the devices in `hub`, then toggles one every `interval` through `bus` until
/// `shutdown`. Each change flips the device's current state in the hub (which the inject API may
/// also have changed).
pub async fn run(
    mut sim: Simulator,
    hub: Arc<Hub>,
    bus: Arc<dyn Bus>,
    interval: Duration,
    shutdown: CancellationToken,
) {
    if sim.devices().is_empty() {
        return;
    }
    let population = sim.initial_states();
    let mut registered = false;
    if bus.simulator_turn(interval).await {
        registered = register(bus.as_ref(), &population).await;
    }
    let mut ticks = tokio::time::interval_at(Instant::now() + interval, interval);
    ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = ticks.tick() => {}
            _ = shutdown.cancelled() => return,
        }
        // With several replicas one of them runs the simulator (a lease); the others wait.
        if !bus.simulator_turn(interval).await {
            registered = false;
            continue;
        }
        if !registered {
            registered = register(bus.as_ref(), &population).await;
        }
        let device = sim.next_device().to_owned();
        let kind = if hub.device_online(&device).unwrap_or(false) {
            DeviceEventKind::DeviceOffline
        } else {
            DeviceEventKind::DeviceOnline
        };
        if let Err(e) = bus.publish(&device, kind, None).await {
            tracing::warn!(error = %e, "simulator could not publish");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bus::LocalBus;
    use crate::metrics::Metrics;

    fn setup() -> (Arc<Hub>, Arc<dyn Bus>) {
        let hub = Arc::new(Hub::new(64, 64, Arc::new(Metrics::new()), "sim", 0));
        let bus: Arc<dyn Bus> = Arc::new(LocalBus::new(Arc::clone(&hub)));
        (hub, bus)
    }

    /// Runs a simulator for `ticks` intervals of paused time and returns what it published.
    async fn record(seed: u64, ticks: u32) -> Vec<(String, bool)> {
        let (hub, bus) = setup();
        let mut rx = hub.subscribe(None).rx;
        let shutdown = CancellationToken::new();
        let interval = Duration::from_millis(2_000);
        let task = tokio::spawn(run(
            Simulator::new(5, seed),
            Arc::clone(&hub),
            bus,
            interval,
            shutdown.clone(),
        ));
        // Half an interval past the last tick: the paused clock jumps straight there.
        tokio::time::sleep(interval * ticks + interval / 2).await;
        shutdown.cancel();
        task.await.unwrap();
        let mut out = Vec::new();
        while let Some(Ok(live)) = rx.try_recv() {
            let crate::hub::Live::Event(frame) = live else {
                panic!("the simulator never resets streams")
            };
            let text = String::from_utf8(frame.bytes.to_vec()).unwrap();
            let data = text.lines().find_map(|l| l.strip_prefix("data: ")).unwrap();
            let ev: wire::model::DeviceEvent = serde_json::from_str(data).unwrap();
            assert_eq!(
                ev.id,
                out.len() as u64 + 1,
                "ids are consecutive from floor 0 + 1"
            );
            out.push((ev.device, ev.kind.online()));
        }
        assert_eq!(hub.devices().len(), 5);
        out
    }

    #[tokio::test(start_paused = true)]
    async fn one_change_per_interval() {
        let events = record(7, 10).await;
        assert_eq!(events.len(), 10);
    }

    #[tokio::test(start_paused = true)]
    async fn same_seed_same_sequence_other_seed_differs() {
        let a = record(42, 20).await;
        let b = record(42, 20).await;
        let c = record(43, 20).await;
        assert_eq!(a, b);
        assert_ne!(a, c);
    }

    #[tokio::test(start_paused = true)]
    async fn each_change_flips_the_device() {
        let (hub, bus) = setup();
        let mut sim = Simulator::new(3, 1);
        let expected_initial: Vec<_> = sim.clone().initial_states();
        let shutdown = CancellationToken::new();
        let mut rx = hub.subscribe(None).rx;
        let task = tokio::spawn(run(
            sim.clone(),
            Arc::clone(&hub),
            bus,
            Duration::from_secs(1),
            shutdown.clone(),
        ));
        tokio::time::sleep(Duration::from_millis(500)).await;
        let mut state: std::collections::HashMap<_, _> = expected_initial.into_iter().collect();
        sim.initial_states();
        for _ in 0..6 {
            let crate::hub::Live::Event(frame) = rx.recv().await.unwrap() else {
                panic!("the simulator never resets streams")
            };
            let text = String::from_utf8(frame.bytes.to_vec()).unwrap();
            let data = text.lines().find_map(|l| l.strip_prefix("data: ")).unwrap();
            let ev: wire::model::DeviceEvent = serde_json::from_str(data).unwrap();
            assert_eq!(ev.device, sim.next_device());
            let was = state[&ev.device];
            assert_eq!(ev.kind.online(), !was, "{} must flip", ev.device);
            state.insert(ev.device, !was);
        }
        shutdown.cancel();
        task.await.unwrap();
    }
}
