//! The deploy-time configuration (`config.json` in `public/`): where models live.

use serde::{Deserialize, Serialize};

/// File name of the deploy config inside `dist/`.
pub const CONFIG_FILE: &str = "config.json";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeployConfig {
    /// Base URL of the model files (`MODEL_BASE_URL`). Empty means the app's own origin,
    /// under `models/`. It may be another origin that answers with CORS headers.
    #[serde(default)]
    pub model_base_url: String,
    /// The model catalog, relative to `model_base_url`.
    #[serde(default = "default_catalog")]
    pub model_catalog: String,
}

fn default_catalog() -> String {
    "models.json".into()
}

impl Default for DeployConfig {
    fn default() -> Self {
        Self {
            model_base_url: String::new(),
            model_catalog: default_catalog(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_fields_take_defaults_and_unknown_fields_are_rejected() {
        let c: DeployConfig = serde_json::from_str("{}").unwrap();
        assert_eq!(c, DeployConfig::default());
        assert!(serde_json::from_str::<DeployConfig>(r#"{"model_base":"x"}"#).is_err());
    }
}
