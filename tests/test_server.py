"""The launched app over HTTP with gradio_client: independent sessions get their own results."""
import re
from concurrent.futures import ThreadPoolExecutor

import pytest
from gradio_client import Client

from pruning import PruneConfig, load_pretrained, prune_model
from pruning.inspection import layer_names
from tests.ui_helpers import SETTING, api_args, server_url  # noqa: F401  (a fixture)
from ui.resources import eval_set

pytestmark = pytest.mark.slow
# The HTTP API: endpoint -> its inputs (no session input: a client's own session is used)
ENDPOINTS = {"/update": SETTING, "/draw": ["sketch"], "/resample": [], "/curves": ["x_axis"], "/finetune": ["steps"],
             "/iterative": ["rounds", "steps"], "/size": [], "/inspect": ["layer"], "/export": ["use_finetuned"]}


def test_the_api_offers_the_app_s_endpoints_under_their_names(server_url):
    endpoints = Client(server_url, verbose=False).view_api(return_format="dict", print_info=False)
    named = endpoints["named_endpoints"]
    assert set(ENDPOINTS) <= set(named), sorted(named)          # (a new tab may add endpoints)
    for name, inputs in ENDPOINTS.items():
        parameters = [p["parameter_name"] for p in named[name]["parameters"]]
        # these inputs, in this order; any added later must come after them, with a default
        assert parameters[:len(inputs)] == inputs, (name, parameters)
        assert all(p["parameter_has_default"] for p in named[name]["parameters"][len(inputs):]), name


def accuracy_after(panel: str) -> str:
    return re.search(r'class="pl-after-value pl-(?:good|warn|bad)">([\d.]+)%', panel).group(1)


def test_two_clients_with_different_settings_get_their_own_results(server_url):
    settings = [("lenet", 0.2, "local"), ("mlp", 0.9, "global")]

    def session(setting):
        model, amount, scope = setting
        client = Client(server_url, verbose=False)
        outputs = []
        for _ in range(3):      # repeated, interleaved with the other client
            outputs.append(client.predict(*api_args(model=model, amount=amount, scope=scope), api_name="/update"))
        layer, *_ = client.predict(None, api_name="/inspect")      # a tab reads this client's own session
        return outputs, layer

    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(session, settings))
    for (model, amount, scope), (outputs, layer) in zip(settings, results):
        expected = prune_model(model, PruneConfig(model=model, amount=amount, scope=scope), eval_set=eval_set())
        for repeat, (panel, chart, *_) in enumerate(outputs):
            assert accuracy_after(panel) == f"{100 * expected.accuracy_after:.2f}"
            assert f"({model})" in panel
            if repeat == 0:
                assert f"Global sparsity <b>{100 * expected.global_sparsity:.2f}%" in chart
            else:                                   # the same setting again: the page has it, not re-sent
                assert isinstance(chart, dict) and chart.get("__type__") == "update", chart
        layers = layer_names(load_pretrained(model)[0])
        assert layer["value"] == layers[0] and [value for _, value in layer["choices"]] == layers


def test_bad_input_over_the_api_is_an_error_message_and_the_server_keeps_serving(server_url):
    client = Client(server_url, verbose=False)
    # gradio's own check of the control (slider bounds, dropdown choices) or the app's, whichever runs first
    with pytest.raises(Exception, match=r"maximum value 0\.99|amount must be between 0 and 1"):
        client.predict(*api_args(amount=7), api_name="/update")
    with pytest.raises(Exception, match=r"not in the list of choices|unknown method 'magic'"):
        client.predict(*api_args(method="magic"), api_name="/update")
    panel, *_ = client.predict(*api_args(), api_name="/update")
    assert "accuracy-panel" in panel


def test_every_named_endpoint_answers_with_only_its_defaults(server_url):
    """A gradio_client user passes only what they care about (nothing at all here): every input has a
    default, and every endpoint answers (tabs after one /update of the same session)."""
    client = Client(server_url, verbose=False)
    info = client.view_api(print_info=False, return_format="dict")["named_endpoints"]
    for name, endpoint in info.items():
        assert all(p["parameter_has_default"] for p in endpoint["parameters"]), name
    assert "accuracy-panel" in client.predict(api_name="/update")[0]
    slow = {"/finetune", "/iterative", "/curves", "/size", "/sensitivity", "/allocate", "/quantize", "/lottery", "/agp"}
    for name in sorted(set(info) - slow - {"/update"}):
        try:
            client.predict(api_name=name)
        except Exception as err:                                          # noqa: BLE001
            message = str(err)
            assert "No value provided" not in message and "required" not in message, (name, message)
            assert name in ("/pinned_csv",) and "Pin a result first" in message, (name, message)
