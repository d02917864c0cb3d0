//! deploy/kubernetes/sidecar.yaml holds together: its config is a valid
//! logferry config whose every `${NAME}` the container gets from the Secret,
//! the probes ask the admin endpoint that config serves (on an address the
//! kubelet reaches), and the state dir is on the PersistentVolumeClaim.
//! (The systemd unit is checked by `systemd-analyze verify` in scripts/test.)
//!
//! No YAML parser is a dependency of logferry: a Python with PyYAML
//! (`LOGFERRY_TEST_YAML_PYTHON`, set by scripts/test) turns the file into
//! JSON first.

use logferry::config::Config;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;

/// Every document of a YAML file, as JSON.
fn yaml_documents(path: &Path) -> Vec<Value> {
    let python = std::env::var("LOGFERRY_TEST_YAML_PYTHON").unwrap_or_else(|_| {
        panic!("LOGFERRY_TEST_YAML_PYTHON is not set: run the suite with scripts/test, which finds (or installs) a python3 with PyYAML and sets it")
    });
    let out = std::process::Command::new(&python)
        .args(["-c", "import json, sys, yaml; json.dump([d for d in yaml.safe_load_all(open(sys.argv[1])) if d], sys.stdout)"])
        .arg(path)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {python}: {e}"));
    assert!(out.status.success(), "{} is not valid YAML: {}", path.display(), String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

fn of_kind<'a>(docs: &'a [Value], kind: &str) -> Vec<&'a Value> {
    docs.iter().filter(|d| d["kind"] == kind).collect()
}

fn one<'a>(docs: &'a [Value], kind: &str) -> &'a Value {
    let found = of_kind(docs, kind);
    assert_eq!(found.len(), 1, "one {kind} expected");
    found[0]
}

fn array(v: &Value) -> &[Value] {
    v.as_array().map(Vec::as_slice).unwrap_or(&[])
}

#[test]
fn the_kubernetes_sidecar_example_probes_the_admin_endpoint_of_its_own_config() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/kubernetes/sidecar.yaml");
    let docs = yaml_documents(&path);
    let deployment = one(&docs, "Deployment");
    assert_eq!(deployment["spec"]["replicas"], 1, "two processes must never share a slot or state dir");
    assert_eq!(deployment["spec"]["strategy"]["type"], "Recreate", "no second pod while the first drains");
    let pod = &deployment["spec"]["template"]["spec"];

    // logferry: a native sidecar (init container that keeps running) or a second container.
    let sidecar = array(&pod["initContainers"]).iter().find(|c| c["name"] == "logferry");
    let container = match sidecar {
        Some(c) => {
            assert_eq!(c["restartPolicy"], "Always", "an init container is a sidecar only with restartPolicy: Always");
            c
        }
        None => array(&pod["containers"]).iter().find(|c| c["name"] == "logferry").expect("a container named logferry"),
    };
    assert!(array(&pod["containers"]).iter().any(|c| c["name"] != "logferry"), "an application container beside it");

    // The config file the container is given: --config <dir>/<key> with <dir> a ConfigMap mount.
    let args: Vec<&str> = array(&container["args"]).iter().filter_map(Value::as_str).collect();
    let config_path = args.windows(2).find(|w| w[0] == "--config").map(|w| w[1]).expect("run --config <file> in args");
    assert_eq!(args.first(), Some(&"run"), "{args:?}");
    let (config_dir, config_key) = config_path.rsplit_once('/').unwrap();
    let volumes = array(&pod["volumes"]);
    let mount_of = |mount_path: &str| {
        let mount = array(&container["volumeMounts"])
            .iter()
            .find(|m| m["mountPath"] == mount_path)
            .unwrap_or_else(|| panic!("nothing is mounted at {mount_path}"));
        volumes.iter().find(|v| v["name"] == mount["name"]).unwrap_or_else(|| panic!("no volume {}", mount["name"]))
    };
    let config_map_name = mount_of(config_dir)["configMap"]["name"].as_str().expect("the config dir is a ConfigMap volume");
    let config_map = of_kind(&docs, "ConfigMap").into_iter().find(|c| c["metadata"]["name"] == config_map_name).expect("that ConfigMap");
    let text = config_map["data"][config_key].as_str().unwrap_or_else(|| panic!("the ConfigMap has no key {config_key}"));

    // Every ${NAME} of the config comes from the container's env, each from a key of a Secret in the file.
    let secrets: BTreeMap<&str, &Value> = of_kind(&docs, "Secret").into_iter().map(|s| (s["metadata"]["name"].as_str().unwrap(), s)).collect();
    let env: BTreeMap<String, String> = array(&container["env"])
        .iter()
        .map(|e| {
            let name = e["name"].as_str().unwrap().to_string();
            if let Some(v) = e["value"].as_str() {
                return (name, v.to_string());
            }
            let r = &e["valueFrom"]["secretKeyRef"];
            let secret = secrets.get(r["name"].as_str().unwrap_or("")).unwrap_or_else(|| panic!("env {name}: no Secret {}", r["name"]));
            let key = r["key"].as_str().unwrap();
            let value = secret["stringData"][key].as_str().or(secret["data"][key].as_str());
            (name.clone(), value.unwrap_or_else(|| panic!("env {name}: the Secret has no key {key}")).to_string())
        })
        .collect();
    let cfg = Config::parse(text, Path::new(config_path), &|name| env.get(name).cloned())
        .unwrap_or_else(|e| panic!("the ConfigMap's {config_key} is not a valid logferry config: {}", logferry::ErrorChain(&e)));
    assert!(!text.contains(&env["ERP_DB_PASSWORD"]), "no password in the ConfigMap");

    // The probes reach the admin endpoint the config serves.
    let admin = cfg.admin.as_ref().expect("the config has an [admin] section");
    assert!(admin.listen.ip().is_unspecified(), "the kubelet probes the pod's IP: listen on 0.0.0.0, not {}", admin.listen);
    let port_of = |p: &Value| -> u64 {
        match p {
            Value::Number(n) => n.as_u64().unwrap(),
            Value::String(name) => array(&container["ports"])
                .iter()
                .find(|c| c["name"] == name.as_str())
                .and_then(|c| c["containerPort"].as_u64())
                .unwrap_or_else(|| panic!("no container port named {name}")),
            other => panic!("a probe port {other}"),
        }
    };
    for (probe, want) in [("livenessProbe", "/health"), ("readinessProbe", "/ready")] {
        let get = &container[probe]["httpGet"];
        assert_eq!(get["path"], want, "{probe}");
        assert_eq!(port_of(&get["port"]), u64::from(admin.listen.port()), "{probe} asks another port than [admin] listen");
    }
    let annotations = &deployment["spec"]["template"]["metadata"]["annotations"];
    if let Some(p) = annotations["prometheus.io/port"].as_str() {
        assert_eq!(p, admin.listen.port().to_string(), "Prometheus scrapes the admin port");
    }

    // The state dir is on the PersistentVolumeClaim.
    let state = mount_of(cfg.state_dir.to_str().unwrap());
    let claim = state["persistentVolumeClaim"]["claimName"].as_str().expect("the state dir is a PersistentVolumeClaim");
    assert!(of_kind(&docs, "PersistentVolumeClaim").iter().any(|c| c["metadata"]["name"] == claim), "the claim {claim} is in the file");

    // Time to drain on SIGTERM.
    let grace = pod["terminationGracePeriodSeconds"].as_u64().expect("terminationGracePeriodSeconds");
    assert!(grace >= 30, "{grace}s leaves no time to finish the batches in flight");
}
