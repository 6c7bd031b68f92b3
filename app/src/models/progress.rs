//! What the load screen says about a load in progress: the stage in words, bytes and percent,
//! and a time left from a moving average of the rate (one slow or fast moment does not make
//! the estimate jump).

use hearth_protocol::{Backend, LoadStage};

/// The stage in words. `from_storage`: the model's chunks are already stored on this device,
/// so "download" is a read from storage. `backend`: where the load was asked to run (an
/// automatic load may end up on either, so its words name neither).
pub fn stage_words(stage: LoadStage, from_storage: bool, backend: Backend) -> &'static str {
    match (stage, from_storage, backend) {
        (LoadStage::Prepare, ..) => "Preparing: reading the model's description",
        (LoadStage::Download, false, Backend::Gpu) => {
            "Downloading and verifying each part, uploading to the GPU as it arrives"
        }
        (LoadStage::Download, false, _) => {
            "Downloading and verifying each part, loading the model as it arrives"
        }
        (LoadStage::Download, true, Backend::Gpu) => {
            "Reading the stored model and uploading it to the GPU"
        }
        (LoadStage::Download, true, _) => "Reading the stored model and loading it",
        (LoadStage::Upload, _, Backend::Gpu) => "Finishing the upload to the GPU",
        (LoadStage::Upload, ..) => "Finishing loading the model",
        (LoadStage::Read, _, Backend::Gpu) => "Reading the file and uploading it to the GPU",
        (LoadStage::Read, ..) => "Reading the file and loading the model",
    }
}

/// Decimal megabytes, as download sizes are usually given ("138 MB", "4.2 MB"); gigabytes
/// from 10 GB ("10.7 GB").
pub fn megabytes(bytes: u64) -> String {
    if bytes >= 10_000_000_000 {
        return format!("{:.1} GB", bytes as f64 / 1e9);
    }
    let mb = bytes as f64 / 1e6;
    if mb < 10.0 && !bytes.is_multiple_of(1_000_000) {
        format!("{mb:.1} MB")
    } else {
        format!("{mb:.0} MB")
    }
}

/// Whole percent done, 100 only when everything is.
pub fn percent(done: u64, total: u64) -> u32 {
    if total == 0 {
        return 0;
    }
    if done >= total {
        return 100;
    }
    ((done as f64 / total as f64) * 100.0).floor().min(99.0) as u32
}

/// "about 40 s left", "about 3 min left", "about 1 h 5 min left".
pub fn time_left(seconds: f64) -> String {
    let s = seconds.max(0.0).round() as u64;
    if s < 60 {
        format!("about {} s left", s.max(1))
    } else if s < 3600 {
        format!("about {} min left", (s + 30) / 60)
    } else {
        format!("about {} h {} min left", s / 3600, (s % 3600 + 30) / 60)
    }
}

/// An exponentially weighted moving average of bytes per second.
#[derive(Debug, Clone, Default)]
pub struct RateMeter {
    last: Option<(f64, u64)>,
    rate: Option<f64>,
    observed_ms: f64,
}

/// How quickly the average forgets: samples older than a few seconds barely count.
const SMOOTHING_MS: f64 = 3000.0;
/// No estimate before this much has been seen: the first moments say little.
const MIN_OBSERVED_MS: f64 = 1000.0;

impl RateMeter {
    pub fn new() -> Self {
        Self::default()
    }

    /// Records that `done` bytes were done at `now_ms`.
    pub fn record(&mut self, now_ms: f64, done: u64) {
        if let Some((t, bytes)) = self.last {
            let dt = now_ms - t;
            if dt <= 0.0 || done < bytes {
                return;
            }
            let instant = (done - bytes) as f64 * 1000.0 / dt;
            let weight = 1.0 - (-dt / SMOOTHING_MS).exp();
            self.rate = Some(self.rate.map_or(instant, |r| r + weight * (instant - r)));
            self.observed_ms += dt;
        }
        self.last = Some((now_ms, done));
    }

    /// Bytes per second, once there is a measurement.
    pub fn rate(&self) -> Option<f64> {
        self.rate
    }

    /// Seconds until `remaining` more bytes are done at the average rate.
    pub fn seconds_left(&self, remaining: u64) -> Option<f64> {
        let rate = self.rate.filter(|r| *r > 0.0)?;
        (self.observed_ms >= MIN_OBSERVED_MS).then(|| remaining as f64 / rate)
    }
}

/// "12 MB of 138 MB · 8% · about 40 s left" (no time left until the rate is known).
pub fn progress_line(done: u64, total: u64, meter: &RateMeter) -> String {
    if total == 0 {
        return String::new();
    }
    let mut line = format!(
        "{} of {} · {}%",
        megabytes(done),
        megabytes(total),
        percent(done, total)
    );
    if done < total {
        if let Some(s) = meter.seconds_left(total - done) {
            line.push_str(" · ");
            line.push_str(&time_left(s));
        }
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_reaches_100_only_at_the_end() {
        assert_eq!(percent(0, 0), 0);
        assert_eq!(percent(0, 100), 0);
        assert_eq!(percent(999, 1000), 99);
        assert_eq!(percent(1000, 1000), 100);
        assert_eq!(percent(1, 3), 33);
    }

    #[test]
    fn sizes_and_times_read_naturally() {
        assert_eq!(megabytes(138_000_000), "138 MB");
        assert_eq!(megabytes(4_200_000), "4.2 MB");
        assert_eq!(megabytes(0), "0 MB");
        assert_eq!(megabytes(1_240_000_000), "1240 MB");
        assert_eq!(megabytes(10_741_000_000), "10.7 GB");
        assert_eq!(time_left(0.2), "about 1 s left");
        assert_eq!(time_left(42.4), "about 42 s left");
        assert_eq!(time_left(170.0), "about 3 min left");
        assert_eq!(time_left(3900.0), "about 1 h 5 min left");
    }

    #[test]
    fn rate_is_a_moving_average() {
        let mut m = RateMeter::new();
        m.record(0.0, 0);
        assert_eq!(m.rate(), None);
        // 1 MB/s for four seconds.
        for s in 1..=4 {
            m.record(s as f64 * 1000.0, s * 1_000_000);
        }
        let steady = m.rate().unwrap();
        assert!((steady - 1e6).abs() < 1.0, "{steady}");
        // One fast second moves the average part of the way, not all of it.
        m.record(5000.0, 14_000_000);
        let after = m.rate().unwrap();
        assert!(after > 2e6 && after < 10e6, "{after}");
        // Time left follows the average.
        let left = m.seconds_left(after as u64 * 10).unwrap();
        assert!((left - 10.0).abs() < 1e-6, "{left}");
    }

    #[test]
    fn no_estimate_from_the_first_moments() {
        let mut m = RateMeter::new();
        m.record(0.0, 0);
        m.record(200.0, 1_000_000);
        assert!(m.rate().is_some());
        assert_eq!(m.seconds_left(10), None);
        assert_eq!(
            progress_line(1_000_000, 10_000_000, &m),
            "1 MB of 10 MB · 10%"
        );
        m.record(1200.0, 2_000_000);
        assert!(progress_line(2_000_000, 10_000_000, &m).ends_with("s left"));
        assert_eq!(
            progress_line(10_000_000, 10_000_000, &m),
            "10 MB of 10 MB · 100%"
        );
    }

    #[test]
    fn stages_have_words() {
        for b in [Backend::Auto, Backend::Gpu, Backend::Cpu] {
            assert!(stage_words(LoadStage::Download, false, b).contains("verifying"));
            assert!(stage_words(LoadStage::Download, true, b).contains("stored"));
            assert!(stage_words(LoadStage::Upload, false, b).contains("Finishing"));
            assert!(stage_words(LoadStage::Read, false, b).contains("file"));
        }
        // Only a load asked to run on the GPU says so: the others may run on the CPU.
        assert!(stage_words(LoadStage::Upload, false, Backend::Gpu).contains("GPU"));
        for stage in [LoadStage::Download, LoadStage::Upload, LoadStage::Read] {
            for b in [Backend::Auto, Backend::Cpu] {
                assert!(
                    !stage_words(stage, false, b).contains("GPU"),
                    "{stage:?} {b:?}"
                );
            }
        }
    }
}
