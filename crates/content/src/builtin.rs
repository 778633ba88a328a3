//! The built-in base layer, compiled into the binary so `vigil hunt` works with no content
//! directory: the seed detection, the macros it needs, and the deployment defaults by type.

/// (path shown in messages, YAML text)
pub const DETECTIONS: &[(&str, &str)] = &[(
    "<built-in>/detections/endpoint/windows_msiexec_remote_download.yml",
    include_str!("../builtin/detections/endpoint/windows_msiexec_remote_download.yml"),
)];

macro_rules! builtin_files {
    ($dir:literal: $($file:literal),* $(,)?) => {
        &[$((concat!("<built-in>/", $dir, "/", $file), include_str!(concat!("../builtin/", $dir, "/", $file)))),*]
    };
}

pub const MACROS: &[(&str, &str)] = builtin_files!("macros":
    "drop_dm_object_name.yml",
    "fillnull_config.yml",
    "oldsummaries_config.yml",
    "powershell.yml",
    "process_msiexec.yml",
    "security_content_ctime.yml",
    "security_content_summariesonly.yml",
    "summariesonly_config.yml",
    "sysmon.yml",
    "windows_msiexec_remote_download_filter.yml",
    "wineventlog_security.yml",
);

pub const DEPLOYMENTS: &[(&str, &str)] = builtin_files!("deployments":
    "escu_default_configuration_anomaly.yml",
    "escu_default_configuration_hunting.yml",
    "escu_default_configuration_ttp.yml",
);
