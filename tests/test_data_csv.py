"""csv:PATH data sets: header detection, the label column, label encoding, splits, bad cells."""
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bprop.data import Dataset, load_dataset
from bprop.errors import DataError


def write_csv(path, text):
    path.write_text(text, encoding="utf-8")
    return path


def all_examples(ds):
    """Every (features, label) row of every split, for comparing against the file."""
    pairs = [p for p in (ds.train, ds.validation, ds.test) if p is not None]
    X = np.concatenate([p[0] for p in pairs])
    y = np.concatenate([p[1] for p in pairs])
    return X, y


def rows_as_set(X, labels):
    return sorted((tuple(float(v) for v in x), label) for x, label in zip(X, labels))


@pytest.fixture
def iris_like(tmp_path):
    """Ten rows, a header, a label column in the middle named 'class' with string labels."""
    lines = ["sepal,class,petal"]
    for i in range(10):
        lines.append(f"{i}.5,{'setosa' if i % 2 else 'virginica'},{10 * i}")
    return write_csv(tmp_path / "iris.csv", "\n".join(lines) + "\n")


def test_header_named_label_column_and_string_classes(iris_like):
    ds = load_dataset(f"csv:{iris_like}")
    assert ds.class_names == ["setosa", "virginica"]  # sorted names -> 0, 1
    assert ds.n_features == 2 and ds.image_shape is None and ds.n_classes == 2
    X, y = all_examples(ds)
    expected = [((i + 0.5, 10.0 * i), 0 if i % 2 else 1) for i in range(10)]
    assert rows_as_set(X, y) == sorted(expected)
    assert ds.train[0].dtype == np.float32 and ds.train[1].dtype == np.int64
    assert ds.name == f"csv:{iris_like}" and ds.source == str(iris_like)


def test_split_is_60_20_20_by_default(iris_like):
    ds = load_dataset(f"csv:{iris_like}")
    assert (len(ds.train[1]), len(ds.validation[1]), len(ds.test[1])) == (6, 2, 2)


def test_validation_size_as_count_fraction_and_zero(iris_like):
    sizes = lambda ds: (len(ds.train[1]), 0 if ds.validation is None else len(ds.validation[1]), len(ds.test[1]))
    assert sizes(load_dataset(f"csv:{iris_like}", validation_size=3)) == (5, 3, 2)
    assert sizes(load_dataset(f"csv:{iris_like}", validation_size=0.5)) == (4, 4, 2)
    assert sizes(load_dataset(f"csv:{iris_like}", validation_size=0)) == (8, 0, 2)


@pytest.mark.parametrize("bad", [-1, 8, 1.0, -0.1, True, "0.2"])
def test_bad_validation_size(iris_like, bad):
    with pytest.raises(DataError, match="validation_size"):
        load_dataset(f"csv:{iris_like}", validation_size=bad)


def test_the_seed_decides_the_shuffle(iris_like):
    first, again = load_dataset(f"csv:{iris_like}", seed=1), load_dataset(f"csv:{iris_like}", seed=1)
    other = load_dataset(f"csv:{iris_like}", seed=2)
    np.testing.assert_array_equal(first.train[0], again.train[0])
    assert not np.array_equal(first.train[0], other.train[0])


def test_no_header_means_the_last_column_is_the_label(tmp_path):
    path = write_csv(tmp_path / "a.csv", "1,2,7\n3,4,9\n5,6,7\n")
    ds = load_dataset(f"csv:{path}", validation_size=0)
    assert ds.class_names == ["7", "9"]
    X, y = all_examples(ds)
    assert rows_as_set(X, y) == sorted([((1.0, 2.0), 0), ((3.0, 4.0), 1), ((5.0, 6.0), 0)])


def test_no_header_with_string_labels_is_not_mistaken_for_a_header(tmp_path):
    path = write_csv(tmp_path / "a.csv", "1,2,cat\n3,4,dog\n5,6,cat\n")
    X, y = all_examples(load_dataset(f"csv:{path}", validation_size=0))
    assert len(y) == 3


def test_integer_labels_sort_numerically_and_keep_their_names(tmp_path):
    path = write_csv(tmp_path / "a.csv", "x,target\n0,10\n1,2\n2,-1\n3,2.0\n")
    ds = load_dataset(f"csv:{path}", validation_size=0)
    assert ds.class_names == ["-1", "2", "10"]
    X, y = all_examples(ds)
    assert rows_as_set(X, y) == sorted([((0.0,), 2), ((1.0,), 1), ((2.0,), 0), ((3.0,), 1)])


def test_column_named_after_the_hash(tmp_path):
    path = write_csv(tmp_path / "a.csv", "kind,a,b\n1,0.5,7\n2,0.25,8\n")
    ds = load_dataset(f"csv:{path}#b", validation_size=0)
    assert ds.class_names == ["7", "8"] and ds.n_features == 2


def test_column_index_after_the_hash_without_header(tmp_path):
    path = write_csv(tmp_path / "a.csv", "yes,1,2\nno,3,4\n")
    ds = load_dataset(f"csv:{path}#0", validation_size=0)
    assert ds.class_names == ["no", "yes"] and ds.n_features == 2


def test_unknown_column_lists_the_headers(tmp_path):
    path = write_csv(tmp_path / "a.csv", "a,b\n1,2\n")
    with pytest.raises(DataError, match=r"no column 'c' \(a, b\)"):
        load_dataset(f"csv:{path}#c")


def test_a_path_containing_a_hash_is_still_found(tmp_path):
    path = write_csv(tmp_path / "odd#name.csv", "1,0\n2,1\n")
    assert load_dataset(f"csv:{path}", validation_size=0).n_features == 1


def test_byte_order_mark_blank_lines_and_quotes_are_handled(tmp_path):
    path = tmp_path / "a.csv"
    path.write_bytes('\ufeff"x","label"\n\n1,"a, b"\n\n2,c\n'.encode("utf-8"))
    ds = load_dataset(f"csv:{path}", validation_size=0)
    assert ds.class_names == ["a, b", "c"]


def refuses(path, *fragments, spec=None):
    with pytest.raises(DataError) as info:
        load_dataset(spec or f"csv:{path}")
    message = str(info.value)
    assert "\n" not in message
    for fragment in fragments:
        assert fragment in message, message


def test_non_numeric_cell_names_row_and_column(tmp_path):
    path = write_csv(tmp_path / "a.csv", "a,b,label\n1,2,x\n3,oops,y\n")
    refuses(path, "row 3, column 'b'", "'oops' is not a number")


def test_non_numeric_cell_without_header_names_the_index(tmp_path):
    path = write_csv(tmp_path / "a.csv", "1,2,0\n3,4,1\n,6,0\n")
    refuses(path, "row 3, column index 0", "'' is not a number")


def test_nan_and_infinity_are_refused(tmp_path):
    refuses(write_csv(tmp_path / "a.csv", "a,label\n1,0\nnan,1\n"), "NaN, infinite")
    refuses(write_csv(tmp_path / "b.csv", "a,label\n1e39,0\n2,1\n"), "too large for float32")


def test_ragged_rows(tmp_path):
    refuses(write_csv(tmp_path / "a.csv", "1,2,0\n3,0\n"), "row 2 has 2 cells but row 1 has 3")


def test_a_csv_read_from_a_pipe_keeps_every_row(tmp_path):
    """A pipe can be read only once: nothing may read ahead of the CSV reader
    (``csv:<(zcat data.csv.gz)``)."""
    import os
    import threading

    fifo = tmp_path / "rows.csv"
    os.mkfifo(fifo)
    text = "a,b,label\n" + "".join(f"{i},{i % 7},{'xy'[i % 2]}\n" for i in range(20000))

    def write():
        with open(fifo, "w") as f:
            f.write(text)

    writer = threading.Thread(target=write)
    writer.start()
    X, y = all_examples(load_dataset(f"csv:{fifo}"))
    writer.join(10)
    assert len(X) == 20000 and sorted(X[:, 0].tolist()) == list(range(20000))
    assert all(int(a) % 2 == label for a, label in zip(X[:, 0], y))


def test_lines_ended_by_a_lone_carriage_return_load(tmp_path):
    path = write_csv(tmp_path / "d.csv", "a,b,label\r" + "".join(f"{i},1,{i % 3}\r" for i in range(3000)))
    X, y = all_examples(load_dataset(f"csv:{path}"))
    assert sorted(X[:, 0].tolist()) == list(range(3000)) and all(int(a) % 3 == c for a, c in zip(X[:, 0], y))


def test_empty_file_and_header_only(tmp_path):
    refuses(write_csv(tmp_path / "a.csv", ""), "holds no rows")
    refuses(write_csv(tmp_path / "b.csv", "a,b,label\n"), "no examples")


def test_label_only(tmp_path):
    refuses(write_csv(tmp_path / "a.csv", "label\n1\n2\n"), "only column is the label")


def test_non_integer_numeric_labels_look_like_regression(tmp_path):
    refuses(write_csv(tmp_path / "a.csv", "a,target\n1,0.5\n2,1\n"), "non-integer number 0.5")


def test_empty_label(tmp_path):
    refuses(write_csv(tmp_path / "a.csv", "a,label\n1,x\n2, \n"), "row 3", "label is empty")


def test_not_utf8(tmp_path):
    path = tmp_path / "a.csv"
    path.write_bytes(b"a,label\n1,caf\xe9\n")
    refuses(path, "not UTF-8")


def test_missing_file(tmp_path):
    refuses(tmp_path / "absent.csv", "no such file")


# --- properties ----------------------------------------------------------------------

FUZZ = settings(max_examples=150, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])


@pytest.fixture(scope="module")
def scratch(tmp_path_factory):
    return tmp_path_factory.mktemp("csv")


def dataset_or_data_error(spec):
    try:
        ds = load_dataset(spec)
    except DataError as error:
        assert "\n" not in str(error)
        return None
    assert isinstance(ds, Dataset)
    assert np.isfinite(ds.train[0]).all() and ds.train[0].dtype == np.float32
    assert 0 <= ds.train[1].min() and ds.train[1].max() < ds.n_classes
    return ds


@FUZZ
@given(text=st.text(alphabet=st.sampled_from(list("0123456789.,-e\n\"abnx ;\t")), max_size=200))
def test_csv_like_text_gives_a_dataset_or_a_data_error(scratch, text):
    dataset_or_data_error(f"csv:{write_csv(scratch / 'fuzz.csv', text)}")


@FUZZ
@given(data=st.binary(max_size=200))
def test_arbitrary_bytes_give_a_dataset_or_a_data_error(scratch, data):
    path = scratch / "fuzz-bytes.csv"
    path.write_bytes(data)
    dataset_or_data_error(f"csv:{path}")


@st.composite
def numeric_tables(draw):
    n_rows, n_features = draw(st.integers(1, 12)), draw(st.integers(1, 4))
    values = st.floats(-1e6, 1e6, allow_nan=False, width=32)
    rows = [[draw(values) for _ in range(n_features)] for _ in range(n_rows)]
    labels = [draw(st.sampled_from(["-3", "0", "7", "12"])) for _ in range(n_rows)]
    return rows, labels


@FUZZ
@given(table=numeric_tables(), header=st.booleans(), seed=st.integers(0, 3))
def test_every_row_lands_in_exactly_one_split_with_its_label(scratch, table, header, seed):
    rows, labels = table
    lines = [",".join(f"f{j}" for j in range(len(rows[0]))) + ",label"] if header else []
    lines += [",".join(repr(v) for v in row) + "," + label for row, label in zip(rows, labels)]
    path = write_csv(scratch / "table.csv", "\n".join(lines) + "\n")
    ds = load_dataset(f"csv:{path}", seed=seed)
    X, y = all_examples(ds)
    names = [ds.class_names[k] for k in y]
    assert rows_as_set(X, names) == rows_as_set(np.array(rows, dtype=np.float32), labels)
    assert ds.class_names == sorted(set(labels), key=int)
