"""MNIST and Fashion-MNIST: finding, downloading (against a local HTTP server), verifying, splitting."""
import gzip
import hashlib
import http.server
import socket
import struct
import threading
from pathlib import Path

import numpy as np
import pytest

from bprop.data import load_dataset, mnist
from bprop.data import download as download_module
from bprop.errors import DataError

REAL_MNIST = Path("/work/shared/data/mnist")
DEBIAN_FASHION = Path("/usr/share/datasets/fashion-mnist")
N_TRAIN, N_TEST = 12, 6


def idx_bytes(array):
    """An IDX file of unsigned bytes, written from the format's description."""
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(struct.pack(">I", d) for d in array.shape)
    return header + array.astype(np.uint8).tobytes()


def make_fake_set(seed=0):
    """Four small MNIST-shaped files: {base name: uncompressed IDX bytes}, plus the arrays."""
    rng = np.random.default_rng(seed)
    arrays = {
        "train-images-idx3-ubyte": rng.integers(0, 256, (N_TRAIN, 28, 28), dtype=np.uint8),
        "train-labels-idx1-ubyte": rng.integers(0, 10, N_TRAIN, dtype=np.uint8),
        "t10k-images-idx3-ubyte": rng.integers(0, 256, (N_TEST, 28, 28), dtype=np.uint8),
        "t10k-labels-idx1-ubyte": rng.integers(0, 10, N_TEST, dtype=np.uint8),
    }
    arrays["train-images-idx3-ubyte"][0, 0, :2] = [0, 255]  # the ends of the pixel scale
    return {base: idx_bytes(a) for base, a in arrays.items()}, arrays


@pytest.fixture
def fake(monkeypatch, tmp_path):
    """Fake MNIST files whose checksums bprop is told to expect; no real cache or system folder."""
    raw, arrays = make_fake_set()
    sums = {base: hashlib.sha256(data).hexdigest() for base, data in raw.items()}
    monkeypatch.setattr(mnist, "SHA256", {"mnist": dict(sums), "fashion-mnist": dict(sums)})
    monkeypatch.setattr(mnist, "SYSTEM_DIRS", {"mnist": [], "fashion-mnist": []})
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    for variable in ("BPROP_DATA", "BPROP_MNIST_MIRROR", "BPROP_FASHION_MNIST_MIRROR",
                     "http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(variable, raising=False)

    class Fake:
        pass

    fake = Fake()
    fake.raw, fake.arrays, fake.sums = raw, arrays, sums
    fake.gz = {base: gzip.compress(data, mtime=0) for base, data in raw.items()}
    return fake


def write_set(directory, files, gzipped=True, names=mnist.FILES):
    directory.mkdir(parents=True, exist_ok=True)
    for base in names:
        (directory / (base + ".gz" if gzipped else base)).write_bytes(files[base])
    return directory


@pytest.fixture
def closed_port():
    """A local port nothing listens on, so connecting is refused at once."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def server(fake):
    """A threaded HTTP server on 127.0.0.1 serving the fake .gz files.

    ``server.behaviour[base]`` picks how a file is served: "ok", "truncate" (announces the
    full length, sends half, hangs up), "truncate-unannounced" (no Content-Length, half
    the bytes), "wrong" (a valid gzip of other content) or "missing" (404).
    """
    behaviour = {base: "ok" for base in mnist.FILES}
    requests = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            requests.append(self.path)
            base = self.path.rsplit("/", 1)[-1].removesuffix(".gz")
            how = behaviour.get(base, "missing")
            if how == "missing" or base not in fake.gz:
                self.send_error(404)
                return
            body = fake.gz[base]
            if how == "wrong":
                body = gzip.compress(b"not the file you are looking for")
            self.send_response(200)
            if how != "truncate-unannounced":
                self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if how.startswith("truncate"):
                self.wfile.write(body[: len(body) // 2])
                self.wfile.flush()
                self.close_connection = True
                return
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()

    class Server:
        pass

    server = Server()
    server.url = f"http://127.0.0.1:{httpd.server_address[1]}/files/"
    server.behaviour, server.requests = behaviour, requests
    try:
        yield server
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


def use_mirrors(monkeypatch, *urls, name="mnist"):
    monkeypatch.setitem(mnist.MIRRORS, name, list(urls))


def leftovers(directory):
    """Temporary download files left in a folder (there must never be any)."""
    return [p.name for p in Path(directory).iterdir() if p.name.endswith(".part")] if Path(directory).exists() else []


# --- loading files that are already there --------------------------------------------


def test_nielsen_split_and_pixel_scaling(fake, tmp_path):
    write_set(tmp_path / "mnist", fake.gz)
    ds = load_dataset("mnist", data_dir=tmp_path, download=False, validation_size=4)
    train_images = fake.arrays["train-images-idx3-ubyte"].reshape(N_TRAIN, -1)
    train_labels = fake.arrays["train-labels-idx1-ubyte"]
    X, y = ds.train
    assert X.dtype == np.float32 and y.dtype == np.int64
    np.testing.assert_array_equal(X, train_images[:8] / np.float32(255))
    np.testing.assert_array_equal(y, train_labels[:8])
    np.testing.assert_array_equal(ds.validation[0], train_images[8:] / np.float32(255))  # the last ones
    np.testing.assert_array_equal(ds.validation[1], train_labels[8:])
    np.testing.assert_array_equal(ds.test[1], fake.arrays["t10k-labels-idx1-ubyte"])
    assert X[0, 0] == 0.0 and X[0, 1] == 1.0 and X.max() <= 1.0
    assert ds.image_shape == (28, 28) and ds.n_features == 784 and ds.n_classes == 10
    assert ds.class_names == [str(d) for d in range(10)]
    assert ds.name == "mnist" and ds.source == str(tmp_path / "mnist")


def test_default_validation_is_the_last_sixth_of_the_training_file(fake, tmp_path):
    write_set(tmp_path / "mnist", fake.gz)
    ds = load_dataset("mnist", data_dir=tmp_path, download=False)
    assert (len(ds.train[1]), len(ds.validation[1]), len(ds.test[1])) == (10, 2, N_TEST)


def test_validation_size_zero_keeps_every_training_example(fake, tmp_path):
    write_set(tmp_path / "mnist", fake.gz)
    ds = load_dataset("mnist", data_dir=tmp_path, download=False, validation_size=0)
    assert ds.validation is None and len(ds.train[1]) == N_TRAIN


def test_files_directly_in_data_dir_and_uncompressed_names(fake, tmp_path):
    write_set(tmp_path, fake.raw, gzipped=False)
    ds = load_dataset("mnist", data_dir=tmp_path, download=False, validation_size=0)
    assert ds.source == str(tmp_path) and len(ds.train[1]) == N_TRAIN


def test_bprop_data_environment_variable(fake, tmp_path, monkeypatch):
    write_set(tmp_path / "elsewhere" / "mnist", fake.gz)
    monkeypatch.setenv("BPROP_DATA", str(tmp_path / "elsewhere"))
    assert load_dataset("mnist", download=False).source == str(tmp_path / "elsewhere" / "mnist")


def test_data_root_falls_back_to_the_xdg_cache_then_home(monkeypatch, tmp_path):
    monkeypatch.delenv("BPROP_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert mnist.data_root() == str(tmp_path / "xdg" / "bprop")
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/is/ignored")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert mnist.data_root() == str(tmp_path / "home" / ".cache" / "bprop")
    assert mnist.data_root(tmp_path / "given") == str(tmp_path / "given")


def test_fashion_mnist_from_a_system_folder_has_clothing_class_names(fake, tmp_path, monkeypatch):
    system = write_set(tmp_path / "usr-share", fake.gz)
    monkeypatch.setitem(mnist.SYSTEM_DIRS, "fashion-mnist", [str(system)])
    ds = load_dataset("fashion-mnist", data_dir=tmp_path / "empty", download=False)
    assert ds.source == str(system) and ds.name == "fashion-mnist"
    assert ds.class_names[:3] == ["T-shirt/top", "Trouser", "Pullover"]
    assert ds.class_names[-1] == "Ankle boot" and ds.n_classes == 10


def test_a_file_with_the_wrong_content_is_refused(fake, tmp_path, monkeypatch):
    write_set(tmp_path / "mnist", fake.gz)
    monkeypatch.setitem(mnist.SHA256["mnist"], "t10k-labels-idx1-ubyte", "0" * 64)
    monkeypatch.setitem(mnist.SHA256["fashion-mnist"], "t10k-labels-idx1-ubyte", "1" * 64)
    with pytest.raises(DataError, match="not the MNIST file t10k-labels-idx1-ubyte"):
        load_dataset("mnist", data_dir=tmp_path, download=False)


def test_images_and_labels_of_different_lengths(fake, tmp_path, monkeypatch):
    files = dict(fake.raw)
    files["train-labels-idx1-ubyte"] = idx_bytes(np.zeros(N_TRAIN - 1, np.uint8))
    monkeypatch.setattr(mnist, "SHA256", {"mnist": {}, "fashion-mnist": {}})  # no checks, no identities
    write_set(tmp_path, files, gzipped=False)
    with pytest.raises(DataError, match=f"holds {N_TRAIN} images but .* holds {N_TRAIN - 1} labels"):
        load_dataset("mnist", data_dir=tmp_path, download=False)


def test_label_outside_0_to_9(fake, tmp_path, monkeypatch):
    files = dict(fake.raw)
    files["t10k-labels-idx1-ubyte"] = idx_bytes(np.full(N_TEST, 10, np.uint8))
    monkeypatch.setattr(mnist, "SHA256", {"mnist": {}, "fashion-mnist": {}})  # no checks, no identities
    write_set(tmp_path, files, gzipped=False)
    with pytest.raises(DataError, match="label 10 is not a class 0..9"):
        load_dataset("mnist", data_dir=tmp_path, download=False)


def test_images_with_no_pixels(fake, tmp_path, monkeypatch):
    files = dict(fake.raw)
    files["train-images-idx3-ubyte"] = idx_bytes(np.zeros((N_TRAIN, 0, 28), np.uint8))
    monkeypatch.setattr(mnist, "SHA256", {"mnist": {}, "fashion-mnist": {}})  # no checks, no identities
    write_set(tmp_path, files, gzipped=False)
    with pytest.raises(DataError, match="no features"):
        load_dataset("mnist", data_dir=tmp_path, download=False)


def test_validation_size_larger_than_the_training_file(fake, tmp_path):
    write_set(tmp_path, fake.gz)
    with pytest.raises(DataError, match="leaves no training examples"):
        load_dataset("mnist", data_dir=tmp_path, download=False, validation_size=N_TRAIN)


def test_missing_files_without_download_say_where_to_put_them(fake, tmp_path):
    with pytest.raises(DataError) as info:
        load_dataset("mnist", data_dir=tmp_path, download=False)
    message = str(info.value)
    assert str(tmp_path / "mnist") in message and "download=True" in message
    assert all(base + ".gz" in message for base in mnist.FILES)


# --- downloading -----------------------------------------------------------------------


def test_download_fetches_verifies_and_loads(fake, server, tmp_path, monkeypatch, capsys):
    use_mirrors(monkeypatch, server.url)
    ds = load_dataset("mnist", data_dir=tmp_path, validation_size=2, progress=True)
    assert (len(ds.train[1]), len(ds.validation[1]), len(ds.test[1])) == (10, 2, N_TEST)
    for base in mnist.FILES:
        assert (tmp_path / "mnist" / (base + ".gz")).read_bytes() == fake.gz[base]
    assert sorted(server.requests) == sorted(f"/files/{base}.gz" for base in mnist.FILES)
    assert leftovers(tmp_path / "mnist") == []
    assert capsys.readouterr().err == ""  # stderr is not a terminal here: no progress bar


def test_second_load_uses_the_downloaded_files(fake, server, tmp_path, monkeypatch, closed_port):
    use_mirrors(monkeypatch, server.url)
    load_dataset("mnist", data_dir=tmp_path, progress=False)
    use_mirrors(monkeypatch, f"http://127.0.0.1:{closed_port}/")
    assert len(load_dataset("mnist", data_dir=tmp_path, progress=False).test[1]) == N_TEST


def test_only_missing_files_are_downloaded(fake, server, tmp_path, monkeypatch):
    write_set(tmp_path / "mnist", fake.gz, names=mnist.FILES[:3])
    use_mirrors(monkeypatch, server.url)
    load_dataset("mnist", data_dir=tmp_path, progress=False)
    assert server.requests == ["/files/t10k-labels-idx1-ubyte.gz"]


def test_next_mirror_is_tried_when_one_is_down(fake, server, tmp_path, monkeypatch, closed_port):
    use_mirrors(monkeypatch, f"http://127.0.0.1:{closed_port}/", server.url)
    assert load_dataset("mnist", data_dir=tmp_path, progress=False).n_classes == 10


def test_mirror_environment_variable_overrides_the_list(fake, server, tmp_path, monkeypatch, closed_port):
    use_mirrors(monkeypatch, f"http://127.0.0.1:{closed_port}/")
    monkeypatch.setenv("BPROP_FASHION_MNIST_MIRROR", server.url)
    assert load_dataset("fashion-mnist", data_dir=tmp_path, progress=False).name == "fashion-mnist"
    assert (tmp_path / "fashion-mnist" / "t10k-images-idx3-ubyte.gz").exists()


def test_checksum_mismatch_deletes_the_download_and_says_so(fake, server, tmp_path, monkeypatch):
    server.behaviour["train-labels-idx1-ubyte"] = "wrong"
    use_mirrors(monkeypatch, server.url)
    with pytest.raises(DataError) as info:
        load_dataset("mnist", data_dir=tmp_path, progress=False)
    message = str(info.value)
    assert "SHA-256 mismatch" in message and "deleted" in message and "\n" not in message
    assert not (tmp_path / "mnist" / "train-labels-idx1-ubyte.gz").exists()
    assert leftovers(tmp_path / "mnist") == []


def test_server_dying_mid_file_leaves_no_file(fake, server, tmp_path, monkeypatch):
    server.behaviour["train-images-idx3-ubyte"] = "truncate"
    use_mirrors(monkeypatch, server.url)
    with pytest.raises(DataError, match="could not download MNIST .*the transfer stopped after"):
        load_dataset("mnist", data_dir=tmp_path, progress=False)
    assert not (tmp_path / "mnist" / "train-images-idx3-ubyte.gz").exists()
    assert leftovers(tmp_path / "mnist") == []


def test_unannounced_truncation_is_caught_by_the_gzip_check(fake, server, tmp_path, monkeypatch):
    server.behaviour["t10k-images-idx3-ubyte"] = "truncate-unannounced"
    use_mirrors(monkeypatch, server.url)
    with pytest.raises(DataError, match="truncated gzip stream"):
        load_dataset("mnist", data_dir=tmp_path, progress=False)
    assert not (tmp_path / "mnist" / "t10k-images-idx3-ubyte.gz").exists()
    assert leftovers(tmp_path / "mnist") == []


def test_http_error_is_reported_with_the_url(fake, server, tmp_path, monkeypatch):
    server.behaviour["t10k-labels-idx1-ubyte"] = "missing"
    use_mirrors(monkeypatch, server.url)
    with pytest.raises(DataError, match=r"t10k-labels-idx1-ubyte\.gz: HTTP 404"):
        load_dataset("mnist", data_dir=tmp_path, progress=False)


def test_offline_message_names_the_four_files_and_the_folder(fake, tmp_path, monkeypatch, closed_port):
    use_mirrors(monkeypatch, f"http://127.0.0.1:{closed_port}/a/", f"http://127.0.0.1:{closed_port}/b/")
    with pytest.raises(DataError) as info:
        load_dataset("mnist", data_dir=tmp_path, progress=False)
    message = str(info.value)
    assert "\n" not in message and "could not download MNIST" in message
    assert message.count("refused") == 2  # both mirrors, each with its reason
    assert f"in {tmp_path / 'mnist'} and run again" in message
    assert all(base + ".gz" in message for base in mnist.FILES)
    assert leftovers(tmp_path / "mnist") == []


def test_progress_bar_appears_when_stderr_is_a_terminal(fake, server, tmp_path, monkeypatch, capsys):
    pytest.importorskip("tqdm")
    monkeypatch.setattr(download_module, "_stderr_is_terminal", lambda: True)
    use_mirrors(monkeypatch, server.url)
    load_dataset("mnist", data_dir=tmp_path, progress=True)
    assert "train-images-idx3-ubyte.gz" in capsys.readouterr().err
    load_dataset("mnist", data_dir=tmp_path / "again", progress=False)
    assert capsys.readouterr().err == ""


def test_unwritable_folder_gives_a_data_error(fake, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    with pytest.raises(DataError, match="cannot create"):
        load_dataset("mnist", data_dir=blocker, progress=False)


# --- the real files, where this machine has them ---------------------------------------


@pytest.mark.skipif(not REAL_MNIST.is_dir(), reason="no MNIST copy in /work/shared/data/mnist")
def test_real_mnist_loads_with_nielsens_split_and_matching_checksums():
    for line in (REAL_MNIST / "SHA256SUMS").read_text().splitlines():
        expected, name = line.split()
        assert hashlib.sha256((REAL_MNIST / name).read_bytes()).hexdigest() == expected
    ds = load_dataset("mnist", data_dir=REAL_MNIST, download=False)  # also checks mnist.SHA256
    assert ds.train[0].shape == (50000, 784) and ds.validation[0].shape == (10000, 784)
    assert ds.test[0].shape == (10000, 784)
    assert ds.train[0].dtype == np.float32 and 0.0 == ds.train[0].min() and ds.train[0].max() == 1.0
    assert ds.train[1][:10].tolist() == [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]  # MNIST's famous first labels
    assert np.bincount(ds.test[1]).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


@pytest.mark.skipif(not DEBIAN_FASHION.is_dir(), reason="Debian's dataset-fashion-mnist is not installed")
def test_debian_fashion_mnist_is_found_and_verified(tmp_path, monkeypatch):
    monkeypatch.delenv("BPROP_DATA", raising=False)
    ds = load_dataset("fashion-mnist", data_dir=tmp_path, download=False)
    assert ds.source == str(DEBIAN_FASHION)
    assert (len(ds.train[1]), len(ds.validation[1]), len(ds.test[1])) == (50000, 10000, 10000)
    assert np.bincount(ds.test[1]).tolist() == [1000] * 10  # Fashion-MNIST's test set is balanced


# ---- one sub-folder per data set ------------------------------------------------------------------
@pytest.fixture
def two_sets(fake, monkeypatch):
    """Fake MNIST and a different fake Fashion-MNIST, each with its own checksums."""
    other_raw, _ = make_fake_set(seed=1)
    other_sums = {base: hashlib.sha256(data).hexdigest() for base, data in other_raw.items()}
    monkeypatch.setattr(mnist, "SHA256", {"mnist": dict(fake.sums), "fashion-mnist": other_sums})
    fake.fashion_gz = {base: gzip.compress(data, mtime=0) for base, data in other_raw.items()}
    return fake


def test_mnist_files_in_the_data_folder_do_not_stand_in_for_fashion_mnist(two_sets, tmp_path, monkeypatch):
    write_set(tmp_path / "data", two_sets.gz)                          # MNIST, flat in BPROP_DATA
    system = write_set(tmp_path / "usr-share", two_sets.fashion_gz)    # the system package
    monkeypatch.setitem(mnist.SYSTEM_DIRS, "fashion-mnist", [str(system)])
    monkeypatch.setenv("BPROP_DATA", str(tmp_path / "data"))
    assert load_dataset("fashion-mnist", download=False).source == str(system)
    assert load_dataset("mnist", download=False).source == str(tmp_path / "data")


def test_without_fashion_mnist_anywhere_the_mnist_files_are_left_alone(two_sets, tmp_path):
    write_set(tmp_path / "data", two_sets.gz)
    with pytest.raises(DataError) as error:
        load_dataset("fashion-mnist", data_dir=tmp_path / "data", download=False)
    message = str(error.value)
    assert str(tmp_path / "data" / "fashion-mnist") in message and "delete" not in message


def test_another_data_sets_file_is_named_and_never_called_for_deletion(two_sets, tmp_path):
    write_set(tmp_path / "data" / "fashion-mnist", two_sets.gz)       # MNIST's files, misplaced
    with pytest.raises(DataError) as error:
        load_dataset("fashion-mnist", data_dir=tmp_path / "data", download=False)
    message = str(error.value)
    assert "is the MNIST file" in message and "keep it" in message and "delete" not in message


@pytest.mark.skipif(not DEBIAN_FASHION.is_dir() or not Path("/work/shared/data/mnist").is_dir(),
                    reason="needs Debian's dataset-fashion-mnist and the shared MNIST copy")
def test_real_mnist_files_in_bprop_data_leave_debians_fashion_mnist_found(tmp_path, monkeypatch):
    for base in mnist.FILES:
        (tmp_path / (base + ".gz")).symlink_to(Path("/work/shared/data/mnist") / (base + ".gz"))
    monkeypatch.setenv("BPROP_DATA", str(tmp_path))
    assert load_dataset("fashion-mnist", download=False).source == str(DEBIAN_FASHION)
    assert load_dataset("mnist", download=False).source == str(tmp_path)
