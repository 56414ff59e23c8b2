//! The SSE server: runs (epochs) of its event log, connections that answer `hello` then replay or
//! `reset` by the server's own resume rule (`wire::resume`), publishing, outages and restarts.
use coord::{Input, ServerEvent};

use super::*;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServerStream {
    Closed,
    Connecting,
    Open,
}

/// One run of the server's event log.
#[derive(Debug, Clone)]
pub struct ServerRun {
    pub epoch: String,
    pub floor: u64,
    pub started: u64,
}

impl World {
    pub(super) fn open_stream(&mut self, i: usize, resume: Option<coord::Position>) {
        self.stream_opens += 1;
        let t = &mut self.tabs[i];
        t.stream_gen += 1;
        t.stream = ServerStream::Connecting;
        let gen = t.stream_gen;
        let d = self
            .rng
            .range(self.cfg.connect_delay.0, self.cfg.connect_delay.1);
        self.push(
            self.now + d,
            Ev::Connect {
                tab: i,
                gen,
                resume,
            },
        );
    }

    pub(super) fn stream_send(&mut self, i: usize, input: Input) {
        let d = self
            .rng
            .range(self.cfg.stream_delay.0, self.cfg.stream_delay.1);
        let at = (self.now + d).max(self.tabs[i].stream_fifo);
        self.tabs[i].stream_fifo = at;
        let gen = self.tabs[i].stream_gen;
        self.push(at, Ev::Stream { tab: i, gen, input });
    }

    pub(super) fn server_connect(&mut self, i: usize, gen: u64, resume: Option<coord::Position>) {
        if self.tabs[i].stream_gen != gen || self.tabs[i].stream != ServerStream::Connecting {
            return;
        }
        if !self.server_up {
            self.stream_send(i, Input::StreamError);
            return;
        }
        self.tabs[i].stream = ServerStream::Open;
        self.stream_send(i, Input::StreamOpened);
        let run = self.current_run().clone();
        let hello = format!(
            r#"{{"instance":"sim-{}","epoch":"{}","head_id":{},"retry_ms":300}}"#,
            run.epoch, run.epoch, self.head
        );
        self.stream_send(
            i,
            Input::StreamEvent(ServerEvent::new(None, "hello", hello)),
        );
        // The server's own rule (`wire::resume`), over a buffer of the last `server_buffer` ids.
        let oldest = (self.head > run.floor).then(|| {
            (self.head + 1)
                .saturating_sub(self.cfg.server_buffer as u64)
                .max(run.floor + 1)
        });
        let log = wire::LogView {
            epoch: &run.epoch,
            floor: run.floor,
            head: self.head,
            oldest,
        };
        // As the shell puts it in the URL: `?last_event_id=N&epoch=E` (no epoch when empty).
        let request = resume.as_ref().map(|p| wire::ResumeRequest {
            epoch: (!p.epoch.is_empty()).then_some(p.epoch.as_str()),
            last_id: p.id,
        });
        match wire::resume(&log, request) {
            wire::Resume::UpToDate => {}
            wire::Resume::Replay { after } => {
                for id in after + 1..=self.head {
                    self.stream_send(i, Input::StreamEvent(device_event(id)));
                }
            }
            wire::Resume::Reset(reason) => {
                let data = format!(
                    r#"{{"epoch":"{}","head_id":{},"devices":[],"reason":"{}"}}"#,
                    run.epoch,
                    self.head,
                    reason.label()
                );
                self.stream_send(i, Input::StreamEvent(ServerEvent::new(None, "reset", data)));
            }
        }
    }

    pub(super) fn publish(&mut self) {
        self.head += 1;
        self.publish_times.push((self.now, self.head));
        let id = self.head;
        for i in 0..self.tabs.len() {
            if self.tabs[i].stream == ServerStream::Open && self.tabs[i].is_present() {
                self.stream_send(i, Input::StreamEvent(device_event(id)));
            }
        }
    }

    /// A new run: ids start far above the old ones (the real server takes the floor from the
    /// clock, `wire::floor_for_new_run`).
    pub(super) fn restart_server(&mut self) {
        let floor = self.head + 1_000_000 + self.rng.range(0, 1_000);
        let epoch = format!("run-{}", self.runs.len());
        self.runs.push(ServerRun {
            epoch,
            floor,
            started: self.now,
        });
        self.head = floor;
    }

    /// Server head at simulated time `t`.
    /// (The current run's floor when nothing of it was published by then.)
    pub fn head_at(&self, t: u64) -> u64 {
        let n = self.publish_times.partition_point(|&(p, _)| p <= t);
        let floor = self.current_run().floor;
        if n == 0 {
            floor
        } else {
            self.publish_times[n - 1].1.max(floor)
        }
    }

    /// The run an id belongs to (runs' ids never overlap in the simulator).
    pub fn epoch_of(&self, id: u64) -> String {
        self.runs
            .iter()
            .rev()
            .find(|r| r.floor <= id)
            .map(|r| r.epoch.clone())
            .unwrap_or_default()
    }

    pub fn current_run(&self) -> &ServerRun {
        self.runs.last().expect("one run at least")
    }
}

pub fn device_event(id: u64) -> ServerEvent {
    ServerEvent::new(
        Some(id),
        "device-online",
        format!(
            r#"{{"id":{id},"device":"d{}","kind":"device-online"}}"#,
            id % 7
        ),
    )
}

pub fn reset_head(data: &str) -> u64 {
    let v: serde_json::Value = serde_json::from_str(data).expect("sim reset payload");
    v["head_id"].as_u64().expect("head_id")
}

pub fn reset_epoch(data: &str) -> String {
    let v: serde_json::Value = serde_json::from_str(data).expect("sim reset payload");
    v["epoch"].as_str().expect("epoch").to_owned()
}
