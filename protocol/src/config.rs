//! The deploy-time configuration (`config.json` in `public/`): where models live, and who may
//! embed Hearth.

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
    /// Origins (`https://host[:port]`) besides the app's own that may frame `embed.html` and
    /// drive it with postMessage. Empty: only the app's own origin. Pages are served with a
    /// CSP `frame-ancestors` built from this list.
    #[serde(default)]
    pub embed_origins: Vec<String>,
    /// The catalog id of the model the embed loads; empty means the catalog's first entry.
    #[serde(default)]
    pub embed_model: String,
}

fn default_catalog() -> String {
    "models.json".into()
}

impl Default for DeployConfig {
    fn default() -> Self {
        Self {
            model_base_url: String::new(),
            model_catalog: default_catalog(),
            embed_origins: Vec::new(),
            embed_model: String::new(),
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
        let c: DeployConfig =
            serde_json::from_str(r#"{"embed_origins": ["https://a.example"], "embed_model": "m"}"#)
                .unwrap();
        assert_eq!(c.embed_origins, ["https://a.example"]);
        assert_eq!(c.embed_model, "m");
    }
}
