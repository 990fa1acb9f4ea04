//! Deploying replaces the previous model: after the flagship's deploy task, a task in the same
//! condition group runs the compiled program against the endpoint and undeploys every model the
//! new traffic split left at 0 %. `deployModel` overwrites the endpoint's traffic split (REST
//! reference `projects.locations.endpoints.deployModel`, field `trafficSplit`) and GCPC's
//! ModelDeployOp (`v1/endpoint/deploy_model`) never undeploys, so without this task every run
//! would leave one more model holding its minimum replicas.
//!
//! The program is run with `python3` against a stand-in `google.cloud.aiplatform` that records
//! calls (skipped with a note when there is no `python3`).

mod support;

use serde_json::Value;
use std::path::Path;
use std::process::Command;

const FAKE_AIPLATFORM: &str = r#"
class _Deployed:
    def __init__(self, id):
        self.id = id

class Endpoint:
    calls = []
    def __init__(self, resource):
        Endpoint.calls.append(("endpoint", resource))
        self.traffic_split = {"new": 100, "old-zero": 0}
    def list_models(self):
        return [_Deployed("new"), _Deployed("old-zero"), _Deployed("old-absent")]
    def undeploy(self, deployed_model_id):
        Endpoint.calls.append(("undeploy", deployed_model_id))
"#;

#[test]
fn the_task_after_deploy_undeploys_models_without_traffic() {
    let c = support::compile_spec(Path::new("specs/flagship.yaml"));
    let json: Value = serde_json::from_str(c.output.get("pipelines/dev/training.json").unwrap_or_default()).unwrap_or_else(|e| panic!("{e}"));
    let group = &json["components"]["comp-condition-2"]["dag"]["tasks"];
    let retire = &group["deploy-retire"];
    assert!(retire["dependentTasks"].as_array().is_some_and(|d| d.iter().any(|t| t == "deploy")), "retire must wait for the deploy");
    assert_eq!(retire["inputs"]["artifacts"]["endpoint"]["taskOutputArtifact"]["producerTask"], "deploy-endpoint");
    let exec = &json["deploymentSpec"]["executors"]["exec-deploy-retire"]["container"];
    let script = exec["command"][2].as_str().unwrap_or_default();
    assert_eq!(exec["args"][0], "{{$}}");

    let Some(python) = ["python3"].into_iter().find(|p| Command::new(p).arg("--version").output().is_ok_and(|o| o.status.success())) else {
        eprintln!("note: no python3; the retire program was not run");
        return;
    };
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let package = dir.path().join("google/cloud/aiplatform");
    std::fs::create_dir_all(&package).unwrap_or_else(|e| panic!("{e}"));
    for init in ["google/__init__.py", "google/cloud/__init__.py"] {
        std::fs::write(dir.path().join(init), "").unwrap_or_else(|e| panic!("{e}"));
    }
    std::fs::write(package.join("__init__.py"), FAKE_AIPLATFORM).unwrap_or_else(|e| panic!("{e}"));
    let resource = "projects/acme-churn-dev/locations/europe-west4/endpoints/6478338283";
    let executor_input = serde_json::json!({"inputs": {"artifacts": {"endpoint": {"artifacts": [{"metadata": {"resourceName": resource}}]}}}});
    let driver = format!("import sys\nsys.argv = ['-c', {:?}]\nexec(compile({:?}, 'retire', 'exec'), {{}})\nfrom google.cloud import aiplatform\nprint(aiplatform.Endpoint.calls)\n", executor_input.to_string(), script);
    let out = Command::new(python).arg("-c").arg(driver).env("PYTHONPATH", dir.path()).output().unwrap_or_else(|e| panic!("{e}"));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    let calls = stdout.lines().last().unwrap_or_default();
    assert_eq!(calls, format!("[('endpoint', '{resource}'), ('undeploy', 'old-zero'), ('undeploy', 'old-absent')]"));
}
