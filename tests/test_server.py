"""The launched app over HTTP with gradio_client: independent sessions get their own results."""
import re
import socket
from concurrent.futures import ThreadPoolExecutor

import pytest
from gradio_client import Client

import app
from pruning import PruneConfig, prune_model

pytestmark = pytest.mark.slow
ARGS = ["l1_unstructured", 0.5, 0.05, "global", False, 0.2, 0.4, ["conv", "linear"], 256, "L1", 0, None]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def server_url():
    _, url, _ = app.demo.launch(server_name="127.0.0.1", server_port=free_port(), prevent_thread_lock=True,
                                quiet=True, **app.LAUNCH_OPTIONS)
    yield url
    app.demo.close()


def accuracy_after(panel: str) -> str:
    return re.search(r'class="pl-(?:good|warn|bad)">([\d.]+)%', panel).group(1)


def test_two_clients_with_different_settings_get_their_own_results(server_url):
    settings = [("lenet", 0.2, "local"), ("mlp", 0.9, "global")]

    def session(setting):
        model, amount, scope = setting
        client = Client(server_url, verbose=False)
        outputs = []
        for _ in range(3):      # repeated, interleaved with the other client
            args = [model] + ARGS
            args[2], args[4] = amount, scope
            outputs.append(client.predict(*args, api_name="/update"))
        return outputs

    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(session, settings))
    eval_set, _ = app.eval_set_and_note()
    for (model, amount, scope), outputs in zip(settings, results):
        expected = prune_model(model, PruneConfig(model=model, amount=amount, scope=scope), eval_set=eval_set)
        for panel, chart, *_ in outputs:
            assert accuracy_after(panel) == f"{100 * expected.accuracy_after:.2f}"
            assert f"({model})" in panel
            assert f"Global sparsity <b>{100 * expected.global_sparsity:.2f}%" in chart


def test_bad_input_over_the_api_is_an_error_message_and_the_server_keeps_serving(server_url):
    client = Client(server_url, verbose=False)
    with pytest.raises(Exception, match="maximum value 0.99"):  # gradio checks slider bounds
        client.predict("lenet", "l1_unstructured", 7, *ARGS[2:], api_name="/update")
    with pytest.raises(Exception, match="not in the list of choices"):
        client.predict("lenet", "magic", *ARGS[1:], api_name="/update")
    panel, *_ = client.predict("lenet", *ARGS, api_name="/update")
    assert "accuracy-panel" in panel
