# Schemathesis hooks for Inferia's fuzz suite (loaded through SCHEMATHESIS_HOOKS).
#
# Random data rarely names something that exists, so part of the generated cases are pointed at
# real objects: path ids of the fuzz org's objects (FUZZ_IDS: {"<path template>": {"<param>":
# "<value>"}}), the node the node token belongs to (FUZZ_NODE_PROVIDER, FUZZ_NODE_INSTANCE) and the
# model the inference double serves (FUZZ_MODEL), body fields naming real objects (FUZZ_BODY_IDS,
# like FUZZ_IDS). The rest stays random.
import json
import os
import random

import schemathesis

IDS = json.loads(os.environ.get("FUZZ_IDS") or "{}")
BODY_IDS = json.loads(os.environ.get("FUZZ_BODY_IDS") or "{}")
NODE_PROVIDER = os.environ.get("FUZZ_NODE_PROVIDER")
NODE_INSTANCE = os.environ.get("FUZZ_NODE_INSTANCE")
MODEL = os.environ.get("FUZZ_MODEL")
SHARE = float(os.environ.get("FUZZ_REAL_SHARE") or "0.6")
rng = random.Random(int(os.environ.get("FUZZ_SEED") or "1"))


@schemathesis.hook
def map_case(context, case):
    path = case.operation.path
    real = IDS.get(path)
    if real and isinstance(case.path_parameters, dict) and rng.random() < SHARE:
        for name, value in real.items():
            if name in case.path_parameters:
                case.path_parameters[name] = value
    body = case.body
    if isinstance(body, dict):
        if NODE_INSTANCE and path in ("/inventory/heartbeat", "/inventory/logs") and rng.random() < SHARE:
            body["provider"] = NODE_PROVIDER
            body["provider_instance_id"] = NODE_INSTANCE
        if MODEL and path.startswith("/v1/") and "model" in body and rng.random() < SHARE:
            body["model"] = MODEL
        for name, value in BODY_IDS.get(path, {}).items():
            if name in body and rng.random() < SHARE:
                body[name] = value
    return case
