"""The embedding of many images (``core.embedding``, ``dv.embed``): a layer's output pooled
per image, as numpy pools it; projections that keep clusters apart, PCA as the SVD gives
it, fixed seeds; one-line errors (real Keras models, real umap-learn, openTSNE and
scikit-learn)."""

import sys

import keras
import numpy as np
import pytest

import dial_visualization as dv
from builders import nested_model, random_pixels, residual_model, sequential_model
from dial_visualization.core import embedding
from dial_visualization.core.batch_explain import image_loader
from dial_visualization.core.context import Context
from dial_visualization.core.demo import write_shapes
from dial_visualization.core.embedding import EmbeddingError
from dial_visualization.core.errors import ImageLoadError


@pytest.fixture(scope="module")
def clusters():
    """Two tight clusters of 20 points in 16 dimensions, far apart: (values, kind)."""
    rng = np.random.default_rng(3)
    values = np.concatenate([rng.normal(0, 1, (20, 16)), rng.normal(12, 1, (20, 16))])
    return values.astype(np.float32), np.repeat([0, 1], 20)


def assert_apart(points, kind):
    """Every point's nearest neighbour is of its own kind, and the kinds fall on the two
    sides of the line between their centres."""
    distances = np.linalg.norm(points[:, None] - points[None], axis=-1)
    np.fill_diagonal(distances, np.inf)
    assert (kind[distances.argmin(axis=1)] == kind).all()
    centres = np.array([points[kind == k].mean(axis=0) for k in (0, 1)])
    along = (points - centres.mean(axis=0)) @ (centres[1] - centres[0])
    assert (along[kind == 0] < 0).all() and (along[kind == 1] > 0).all()


def test_pooled_activations_are_the_layer_output_averaged_per_image():
    model = sequential_model(size=16)
    context = Context(model=model)
    sources = [random_pixels(16, seed=seed) for seed in range(7)]
    load = image_loader(context)
    x = np.stack([load(source).array for source in sources])
    conv2 = keras.Model(model.inputs[0], model.get_layer("conv2").output)(x).numpy()
    expected = conv2.astype(np.float64).mean(axis=(1, 2))  # naive: each image's mean map

    features = embedding.pooled_activations(context, sources, "conv2", load, batch_size=3)
    assert features.values.shape == (7, 6) and features.positions == list(range(7))
    np.testing.assert_allclose(features.values, expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(features.predicted, model(x).numpy().argmax(axis=1))
    # a vector is kept as it is: the model's own pooling gives the same numbers
    gap = embedding.pooled_activations(context, sources, "gap", load, batch_size=4)
    np.testing.assert_allclose(gap.values, expected, rtol=1e-5, atol=1e-6)


def test_an_unreadable_image_is_left_out_with_its_error(tmp_path):
    model = sequential_model(size=16)
    context = Context(model=model)
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"not an image")
    sources = [random_pixels(16, seed=1), str(broken), random_pixels(16, seed=2)]
    result = embedding.compute(context, sources, "conv1", "pca", true=[2, 1, 0])
    assert result.points.shape == (2, 2)
    assert result.true.tolist() == [2, 0]
    assert [source for source, _ in result.errors] == [str(broken)]
    assert "\n" not in result.errors[0][1]
    with pytest.raises(EmbeddingError, match=r"^PCA needs at least 2 images: 1 of 2 could "
                                             r"not be read \(.*broken.png: "):
        embedding.compute(context, sources[:2], "conv1", "pca")


def test_the_default_layer_is_the_one_before_the_classifier():
    assert embedding.default_layer(sequential_model()) == "gap"
    assert embedding.default_layer(residual_model()) == "gap"  # before logits and softmax
    assert embedding.default_layer(nested_model()) == "gap"
    keras.utils.set_random_seed(0)
    dense = keras.Sequential([
        keras.Input((8, 8, 3)), keras.layers.Conv2D(4, 3, name="conv"),
        keras.layers.Flatten(name="flatten"), keras.layers.Dense(10, name="hidden"),
        keras.layers.Dense(3, activation="softmax", name="out")])
    assert embedding.default_layer(dense) == "hidden"


@pytest.mark.parametrize("method", ["pca", "tsne", "umap"])
def test_each_projection_keeps_separated_clusters_apart_and_is_reproducible(method, clusters):
    values, kind = clusters
    points = embedding.project(values, method)
    assert points.shape == (40, 2) and points.dtype == np.float32
    assert_apart(points, kind)
    np.testing.assert_array_equal(embedding.project(values, method), points)


@pytest.mark.parametrize("library", ["opentsne", "sklearn"])
def test_both_tsne_libraries_keep_clusters_apart(library, clusters):
    values, kind = clusters
    assert_apart(embedding.tsne(values, perplexity=5, library=library), kind)


def test_tsne_without_opentsne_is_scikit_learns(clusters, monkeypatch):
    values, _ = clusters
    monkeypatch.setitem(sys.modules, "openTSNE", None)  # as if not installed
    np.testing.assert_array_equal(embedding.project(values, "tsne"),
                                  embedding.tsne(values, 13, library="sklearn"))


def test_pca_is_the_projection_on_the_two_first_singular_vectors(clusters):
    values, _ = clusters
    centred = values.astype(np.float64) - values.mean(axis=0)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    expected = centred @ vt[:2].T
    points = embedding.project(values, "pca")
    signs = np.sign((points * expected).sum(axis=0))  # a component's sign is arbitrary
    np.testing.assert_allclose(points * signs, expected, rtol=1e-4, atol=1e-4)
    # one feature: the second coordinate is 0
    assert embedding.project(values[:, :1], "pca")[:, 1].tolist() == [0.0] * 40


@pytest.mark.parametrize("call, message", [
    (lambda v: embedding.project(v[:3], "tsne"), "t-SNE needs at least 4 images (3 given)"),
    (lambda v: embedding.project(v[:1], "pca"), "PCA needs at least 2 images (1 given)"),
    (lambda v: embedding.project(v[:12], "tsne", perplexity=5),
     "t-SNE at perplexity 5 needs more than 15 images (12 given)"),
    (lambda v: embedding.project(v[:10], "umap", neighbours=10),
     "UMAP with 10 neighbours needs more than 10 images (10 given)"),
    (lambda v: embedding.project(v, "mds"), "unknown projection 'mds': use one of pca, tsne"),
])
def test_too_few_images_and_unknown_methods_are_one_line_errors(call, message, clusters):
    with pytest.raises(EmbeddingError, match="^" + message.replace("(", r"\(")
                       .replace(")", r"\)")) as raised:
        call(clusters[0])
    assert "\n" not in str(raised.value)


def test_a_library_not_installed_says_how_to_install_it(clusters, monkeypatch):
    monkeypatch.setitem(sys.modules, "umap", None)
    with pytest.raises(EmbeddingError, match=r"^UMAP needs umap-learn: pip install "
                                             r"'dial-visualization\[embedding\]'$"):
        embedding.project(clusters[0], "umap")


def test_a_layer_that_does_not_exist_is_named():
    with pytest.raises(EmbeddingError, match=r"^no layer 'conv9' to embed in sequential_cnn "
                                             r"\(its last layers: .*gap, predictions\)$"):
        embedding.check_layer(sequential_model(), "conv9")
    with pytest.raises(EmbeddingError, match="no layer 'image'"):  # the input is no layer
        embedding.check_layer(sequential_model(), "image")


def test_dv_embed_on_a_labelled_folder(tmp_path):
    folder = tmp_path / "shapes"
    write_shapes(folder, 3, seed=2)
    paths = dv.demo_paths()
    result = dv.embed(paths["model"], folder, labels=paths["labels"])
    assert result.layer == "gap" and result.method == "pca"
    assert result.points.shape == (12, 2)
    labels = dv.load_labels(paths["labels"])
    assert [labels[t] for t in result.true] == [p.split("/")[-2] for p in result.sources]
    # the points are the projection of the pooled features, predictions the model's
    model = dv.load_model(paths["model"])
    context = Context(model=model)
    features = embedding.pooled_activations(context, result.sources, "gap")
    np.testing.assert_allclose(result.points, embedding.project(features.values, "pca"),
                               rtol=1e-4, atol=1e-4)
    np.testing.assert_array_equal(result.predicted, features.predicted)
    with pytest.raises(EmbeddingError, match="^no layer 'dense9'"):
        dv.embed(model, folder, layer="dense9")


def test_a_run_stops_between_batches_when_asked():
    from builders import StopAfterFirstBatch, counting_model

    from dial_visualization.core.errors import Cancelled

    model, counter = counting_model()
    stop = StopAfterFirstBatch(counter)
    sources = [random_pixels(16, seed=seed) for seed in range(6)]
    with pytest.raises(Cancelled):
        embedding.compute(Context(model=model), sources, None, "pca", batch_size=2,
                          progress=stop.progress, should_stop=stop.should_stop)
    assert stop.reported == [pytest.approx(0.9 * 2 / 6)] and stop.samples_after_stop() == 0


def test_dv_embed_names_a_missing_folder_and_unreadable_arrays_in_one_line(tmp_path):
    model = dv.load_model(dv.demo_paths()["model"])
    with pytest.raises(ImageLoadError, match=r"^no such image file or folder: .*nowhere$"):
        dv.embed(model, tmp_path / "nowhere")
    unreadable = np.full((3, 64, 64, 3), np.nan, np.float32)
    with pytest.raises(EmbeddingError, match=r"^PCA needs at least 2 images: 3 of 3 could "
                                             r"not be read \(image 0: [^\n]*\)$"):
        dv.embed(model, unreadable)
