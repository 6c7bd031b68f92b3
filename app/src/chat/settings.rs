//! The chat's settings: the system prompt and how replies are sampled. Stored as JSON; fields
//! missing from what was stored (an older version) keep their defaults.

use hearth_protocol::GenerateSettings;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default)]
pub struct ChatSettings {
    pub system_prompt: String,
    pub generate: GenerateSettings,
}

/// A settings field, named as in the form and in [`GenerateSettings`].
pub const FIELDS: [&str; 6] = [
    "temperature",
    "top_k",
    "top_p",
    "repetition_penalty",
    "max_tokens",
    "seed",
];

impl ChatSettings {
    pub fn from_stored(text: Option<&str>) -> Self {
        text.and_then(|t| serde_json::from_str(t).ok())
            .unwrap_or_default()
    }

    pub fn to_stored(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// The value of field `name` as the form shows it.
    pub fn field(&self, name: &str) -> String {
        let g = &self.generate;
        match name {
            "temperature" => g.temperature.to_string(),
            "top_k" => g.top_k.to_string(),
            "top_p" => g.top_p.to_string(),
            "repetition_penalty" => g.repetition_penalty.to_string(),
            "max_tokens" => g.max_tokens.to_string(),
            "seed" => g.seed.to_string(),
            _ => String::new(),
        }
    }

    /// Sets field `name` from the form's text; a value out of range is refused with a reason.
    pub fn set_field(&mut self, name: &str, value: &str) -> Result<(), String> {
        let value = value.trim();
        let g = &mut self.generate;
        let float = |min: f32, max: f32| -> Result<f32, String> {
            match value.parse::<f32>() {
                Ok(v) if v.is_finite() && (min..=max).contains(&v) => Ok(v),
                _ => Err(format!("use a number from {min} to {max}")),
            }
        };
        let whole = |min: u64, max: u64| -> Result<u64, String> {
            match value.parse::<u64>() {
                Ok(v) if (min..=max).contains(&v) => Ok(v),
                _ => Err(format!("use a whole number from {min} to {max}")),
            }
        };
        match name {
            "temperature" => g.temperature = float(0.0, 2.0)?,
            "top_k" => g.top_k = whole(0, 1000)? as u32,
            "top_p" => g.top_p = float(0.0, 1.0)?,
            "repetition_penalty" => g.repetition_penalty = float(0.5, 2.0)?,
            "max_tokens" => g.max_tokens = whole(1, 32768)? as u32,
            "seed" => g.seed = whole(0, u64::from(u32::MAX))?,
            "system_prompt" => self.system_prompt = value.to_string(),
            other => return Err(format!("unknown setting {other}")),
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_settings_round_trip_and_fill_defaults() {
        let mut s = ChatSettings::default();
        s.set_field("temperature", "0").unwrap();
        s.set_field("max_tokens", " 4 ").unwrap();
        s.set_field("system_prompt", "Be brief.").unwrap();
        assert_eq!(ChatSettings::from_stored(Some(&s.to_stored())), s);
        let old = ChatSettings::from_stored(Some(r#"{"system_prompt":"x"}"#));
        assert_eq!(old.generate, GenerateSettings::default());
        assert_eq!(
            ChatSettings::from_stored(Some("garbage")),
            ChatSettings::default()
        );
        assert_eq!(ChatSettings::from_stored(None), ChatSettings::default());
    }

    #[test]
    fn fields_read_back_what_was_set() {
        let mut s = ChatSettings::default();
        for (name, value) in FIELDS.iter().zip(["0.5", "12", "0.8", "1.1", "64", "42"]) {
            s.set_field(name, value).unwrap();
            assert_eq!(s.field(name), value);
        }
        assert_eq!(s.generate.top_k, 12);
        assert_eq!(s.generate.seed, 42);
    }

    #[test]
    fn out_of_range_values_are_refused() {
        let mut s = ChatSettings::default();
        assert!(s.set_field("temperature", "-1").is_err());
        assert!(s.set_field("temperature", "NaN").is_err());
        assert!(s.set_field("max_tokens", "0").is_err());
        assert!(s.set_field("top_k", "1.5").is_err());
        assert_eq!(s, ChatSettings::default());
    }
}
