"""The synthetic chest CT and radiograph generators (teachingfiles.demo.synthetic_*).

Volumes are made small (32 x 256 x 256) to keep the tests quick; the anatomy is
in millimetres, so the same structures are drawn at any size.
"""

from __future__ import annotations

from functools import cache

import numpy as np
import pytest
from scipy import ndimage

from teachingfiles.demo.anatomy import Tissue
from teachingfiles.demo.findings import CT_VARIANTS
from teachingfiles.demo.findings_radiograph import XR_VARIANTS
from teachingfiles.demo.synthetic_ct import SyntheticCT, ct_labels, make_chest_ct
from teachingfiles.demo.synthetic_radiograph import SyntheticRadiograph, make_chest_radiograph
from teachingfiles.errors import UsageError
from teachingfiles.vocabulary import Appearance, Finding, Severity

N, SIZE = 32, 256
XR_SIZE = 256


@cache
def ct(appearance: str, variant: str = "default", seed: int = 7) -> SyntheticCT:
    return make_chest_ct(appearance, seed=seed, variant=variant, n_slices=N, size=SIZE)


@cache
def labels(seed: int = 7) -> tuple[np.ndarray, np.ndarray]:
    return ct_labels(seed, n_slices=N, size=SIZE)


@cache
def xr(
    appearance: str, severity: str | None, variant: str = "default", seed: int = 3,
    view: str = "AP",
) -> SyntheticRadiograph:  # fmt: skip
    return make_chest_radiograph(
        appearance, severity, seed=seed, size=XR_SIZE, view=view, variant=variant
    )


def all_masks(vol: SyntheticCT) -> np.ndarray:
    out = np.zeros(vol.hu.shape, bool)
    for mask in vol.masks.values():
        out |= mask
    return out


# ---------------------------------------------------------------- CT geometry
def test_ct_shapes_dtypes_and_geometry() -> None:
    vol = ct("negative")
    assert vol.hu.shape == (N, SIZE, SIZE)
    assert vol.hu.dtype == np.int16
    assert vol.slice_z.dtype == np.float64
    assert np.all(np.diff(vol.slice_z) > 0)
    assert np.allclose(np.diff(vol.slice_z), vol.slice_thickness)
    assert vol.slice_thickness == pytest.approx(10.0)  # 320 mm in 32 slices
    row, col = vol.pixel_spacing
    assert row == col == pytest.approx(500.0 / SIZE)
    x0, _ = vol.origin_xy
    assert x0 == pytest.approx(-(SIZE - 1) / 2 * col)  # body axis at the image centre
    assert vol.appearance is Appearance.NEGATIVE
    assert vol.masks == {}


def test_ct_default_size_is_64_slices_of_512() -> None:
    vol = make_chest_ct(Appearance.NEGATIVE, seed=1)
    assert vol.hu.shape == (64, 512, 512)
    assert vol.slice_thickness == pytest.approx(5.0)


def test_ct_tissues_have_their_ct_numbers() -> None:
    vol, (lab, _) = ct("negative"), labels()
    expected = {
        Tissue.LUNG: (-900, -780),
        Tissue.FAT: (-120, -80),
        Tissue.MUSCLE: (30, 60),
        Tissue.BLOOD: (25, 55),
        Tissue.LIVER: (45, 70),
        Tissue.CORTEX: (600, 1200),
        Tissue.MARROW: (200, 400),
        Tissue.AIRWAY: (-1000, -900),
    }
    core = {t: ndimage.binary_erosion(lab == t, iterations=1) for t in expected}
    for tissue, (lo, hi) in expected.items():
        values = vol.hu[core[tissue]]
        assert values.size > 50, tissue
        assert lo <= np.median(values) <= hi, (tissue, np.median(values))


def test_ct_outside_air_is_flat_and_fov_corner_padded() -> None:
    vol, (lab, _) = ct("negative"), labels()
    assert vol.hu[0, 0, 0] == -1024 and vol.hu[-1, 0, -1] == -1024
    air = ndimage.binary_erosion(lab == Tissue.AIR, iterations=3)
    assert np.all(vol.hu[air] == -1000)
    muscle = ndimage.binary_erosion(lab == Tissue.MUSCLE, iterations=2)
    assert 6.0 < vol.hu[muscle].std() < 25.0  # noise inside the body only


def test_ct_anatomy_from_base_to_apex() -> None:
    lab, lungs = labels()
    lung_area = lungs.sum(axis=(1, 2))
    assert lung_area[0] < lung_area[N // 2] and lung_area[-1] < lung_area[N // 2]
    liver = (lab == Tissue.LIVER).sum(axis=(1, 2))
    assert liver[:3].min() > 0 and liver[N // 2 :].max() == 0  # liver only at the bases
    trachea = (lab == Tissue.AIRWAY).sum(axis=(1, 2))
    assert trachea[-3:].min() > 0  # trachea in the upper slices
    assert (lab == Tissue.CORTEX).any(axis=(1, 2)).all()  # spine and ribs on every slice
    heart = lab[N // 3] == Tissue.BLOOD
    assert heart.sum() > (lab[-2] == Tissue.BLOOD).sum()  # heart bigger low than high


def test_ct_body_within_sixty_percent_of_field() -> None:
    lab, _ = labels()
    body = (lab != Tissue.AIR) & (lab != Tissue.OUTSIDE) & (lab < Tissue.COUCH)
    cols = np.flatnonzero(body.any(axis=(0, 1)))
    assert (cols[-1] - cols[0]) / SIZE <= 0.66


def test_ct_is_deterministic() -> None:
    a = make_chest_ct("typical", seed=11, n_slices=8, size=96)
    b = make_chest_ct("typical", seed=11, n_slices=8, size=96)
    c = make_chest_ct("typical", seed=12, n_slices=8, size=96)
    assert np.array_equal(a.hu, b.hu)
    assert a.masks.keys() == b.masks.keys()
    for f in a.masks:
        assert np.array_equal(a.masks[f], b.masks[f])
    assert not np.array_equal(a.hu, c.hu)


# ---------------------------------------------------------------- CT findings
@pytest.mark.parametrize(
    ("appearance", "variant"),
    [(a.value, v) for a, vs in CT_VARIANTS.items() for v in vs],
)
def test_ct_findings_stay_in_the_lungs(appearance: str, variant: str) -> None:
    vol, (_, lungs) = ct(appearance, variant), labels()
    assert vol.variant == variant
    assert vol.summary and vol.features
    for finding, mask in vol.masks.items():
        assert mask.shape == vol.hu.shape and mask.dtype == bool
        assert mask.any(), finding
        assert not (mask & ~lungs).any(), finding


def test_ct_lesions_change_exactly_the_masked_lung() -> None:
    vol, (lab, _) = ct("typical", "ggo"), labels()
    mask = all_masks(vol)
    parenchyma = ndimage.binary_erosion(lab == Tissue.LUNG, iterations=1)
    inside = vol.hu[parenchyma & mask]
    outside = vol.hu[parenchyma & ~ndimage.binary_dilation(mask, iterations=2)]
    assert -700 < np.median(inside) < -250  # ground glass
    assert np.percentile(outside, 99) < -700  # untouched lung stays lung


def test_ct_crazy_paving_adds_septa_only_inside_the_lesions() -> None:
    ggo, crazy = ct("typical", "ggo"), ct("typical", "crazy-paving")
    mask = crazy.masks[Finding.INFECTIOUS_OPACITY]
    assert np.array_equal(mask, ggo.masks[Finding.INFECTIOUS_OPACITY])  # same lesions
    changed = ggo.hu != crazy.hu
    assert changed.any()
    assert not (changed & ~mask).any()  # every changed pixel is in the mask
    assert np.all(crazy.hu[changed] > ggo.hu[changed])  # septa are denser than ground glass


def test_ct_typical_is_bilateral_peripheral_lower() -> None:
    vol = ct("typical", "ggo")
    mask = vol.masks[Finding.INFECTIOUS_OPACITY]
    half = SIZE // 2
    assert mask[:, :, :half].sum() > 0 and mask[:, :, half:].sum() > 0
    assert mask[: N // 2].sum() > mask[N // 2 :].sum()
    assert {"bilateral", "peripheral", "ground-glass"} <= set(vol.features)


def _skin_distance(mask: np.ndarray, lab: np.ndarray) -> float:
    """Median distance (mm) from masked pixels to the outside of the body."""
    body = (lab != Tissue.AIR) & (lab != Tissue.OUTSIDE) & (lab < Tissue.COUCH)
    dist = np.stack([ndimage.distance_transform_edt(b) for b in body])
    return float(np.median(dist[mask]) * 500.0 / SIZE)


def test_ct_typical_is_more_peripheral_than_indeterminate() -> None:
    lab, _ = labels()
    typical = _skin_distance(all_masks(ct("typical", "ggo")), lab)
    perihilar = _skin_distance(all_masks(ct("indeterminate", "perihilar")), lab)
    assert typical + 15.0 < perihilar


def test_ct_unilateral_indeterminate_is_one_sided() -> None:
    mask = ct("indeterminate", "unilateral").masks[Finding.INFECTIOUS_OPACITY]
    half = SIZE // 2
    assert min(mask[:, :, :half].sum(), mask[:, :, half:].sum()) == 0


def test_ct_lobar_consolidation_has_no_ground_glass() -> None:
    vol = ct("atypical", "lobar")
    mask = vol.masks[Finding.INFECTIOUS_OPACITY]
    values = vol.hu[ndimage.binary_erosion(mask, iterations=2)]
    assert -60 < np.median(values) < 60
    assert np.mean((values > -700) & (values < -250)) < 0.05
    assert np.mean(values < -850) > 0.002  # air bronchograms
    half = SIZE // 2
    assert min(mask[:, :, :half].sum(), mask[:, :, half:].sum()) == 0


def test_ct_cavity_has_gas_and_a_wall() -> None:
    vol = ct("atypical", "cavity")
    cavity = vol.masks[Finding.INFECTIOUS_CAVITY]
    assert (vol.hu[cavity] < -900).sum() > 5
    assert (vol.hu[cavity] > -100).sum() > 5
    assert not (cavity & vol.masks[Finding.INFECTIOUS_OPACITY]).any()


def test_ct_tree_in_bud_has_small_nodules() -> None:
    vol = ct("atypical", "tree-in-bud")
    tib = vol.masks[Finding.INFECTIOUS_TIB]
    assert Finding.INFECTIOUS_OPACITY not in vol.masks
    assert (vol.hu[tib] > -250).mean() > 0.03


def test_ct_nodule_is_small_and_calcified() -> None:
    vol = ct("negative", "nodule")
    nodule = vol.masks[Finding.NONINFECTIOUS_NODULE]
    assert 0 < nodule.sum() < 200
    assert np.median(vol.hu[nodule]) > 200


def test_ct_effusion_is_dependent_fluid() -> None:
    vol, (lab, _) = ct("atypical", "effusion"), labels()
    assert "effusion" in vol.features
    parenchyma = ndimage.binary_erosion(lab == Tissue.LUNG, iterations=1)
    fluid = parenchyma & (vol.hu > -30) & (vol.hu < 50) & ~all_masks(vol)
    rows = np.nonzero(fluid)[1]
    assert rows.size > 20 and np.median(rows) > SIZE // 2  # posterior = lower rows


def test_ct_accepts_ricord_labels_and_rejects_unknown_variants() -> None:
    vol = make_chest_ct("Typical Appearance", seed=1, variant="crazy-paving", n_slices=4, size=64)
    assert vol.appearance is Appearance.TYPICAL
    assert "crazy-paving" in vol.features
    with pytest.raises(UsageError, match=r"variant 'lobar' is not a variant of typical CT"):
        make_chest_ct("typical", seed=1, variant="lobar", n_slices=4, size=64)
    with pytest.raises(ValueError, match="is not a Appearance"):
        make_chest_ct("pneumonia", seed=1)


# ---------------------------------------------------------------- radiographs
def test_radiograph_format() -> None:
    img = xr("negative", None)
    assert img.pixels.shape == (XR_SIZE, XR_SIZE) and img.pixels.dtype == np.uint16
    assert img.bits_stored == 12 and int(img.pixels.max()) <= 4095
    assert img.pixel_spacing == (pytest.approx(400 / XR_SIZE),) * 2
    assert img.view == "AP" and img.severity is None
    assert img.zones_involved == 0 and not img.opacity_mask.any()


def test_radiograph_default_size() -> None:
    img = make_chest_radiograph("typical", "mild", seed=2, view="pa")
    assert img.pixels.shape == (1024, 1024) and img.view == "PA"


def test_radiograph_high_means_dense() -> None:
    img = xr("negative", None)
    assert img.zones is not None
    lungs = img.zones > 0
    spine = np.zeros_like(lungs)
    spine[XR_SIZE // 3 : XR_SIZE // 2, XR_SIZE // 2 - 3 : XR_SIZE // 2 + 3] = True
    lung_mean = img.pixels[lungs].mean()
    assert img.pixels[spine].mean() > lung_mean + 600
    assert img.pixels[:8, :8].mean() < lung_mean - 500  # air above the shoulders


@pytest.mark.parametrize(
    ("severity", "zones"),
    [(Severity.MILD, (1, 2)), (Severity.MODERATE, (3, 4)), (Severity.SEVERE, (5, 6))],
)
@pytest.mark.parametrize("appearance", ["typical", "indeterminate", "atypical"])
def test_radiograph_zones_match_severity(
    appearance: str, severity: Severity, zones: tuple[int, int]
) -> None:
    for seed in (3, 4):
        img = xr(appearance, severity.value, seed=seed)
        assert img.severity is severity
        assert zones[0] <= img.zones_involved <= zones[1]
        assert img.zones is not None
        touched = set(np.unique(img.zones[img.opacity_mask]).tolist()) - {0}
        assert len(touched) == img.zones_involved
        for z in touched:  # every involved zone carries a real share of disease
            assert (img.opacity_mask & (img.zones == z)).sum() > 0.02 * (img.zones == z).sum()


def test_radiograph_typical_starts_at_the_bases_and_is_bilateral() -> None:
    mild = xr("typical", "mild")
    assert mild.zones is not None
    touched = set(np.unique(mild.zones[mild.opacity_mask]).tolist()) - {0}
    assert touched <= {3, 6}
    moderate = xr("typical", "moderate")
    assert moderate.zones is not None
    touched = set(np.unique(moderate.zones[moderate.opacity_mask]).tolist()) - {0}
    assert {3, 6} <= touched and "bilateral" in moderate.features


def _lateral_offset(img: SyntheticRadiograph) -> float:
    cols = np.nonzero(img.opacity_mask)[1]
    return float(np.mean(np.abs(cols - XR_SIZE / 2)))


def test_radiograph_typical_is_more_peripheral_than_indeterminate() -> None:
    for seed in (3, 4):
        typical = xr("typical", "moderate", seed=seed)
        central = xr("indeterminate", "moderate", seed=seed)
        assert _lateral_offset(typical) > _lateral_offset(central) + 5


@pytest.mark.parametrize("seed", [3, 4, 5])
def test_radiograph_unilateral_indeterminate_stays_on_one_side(seed: int) -> None:
    img = xr("indeterminate", "mild", variant="unilateral", seed=seed)
    assert img.zones is not None
    touched = set(np.unique(img.zones[img.opacity_mask]).tolist()) - {0}
    assert touched <= {1, 2} or touched <= {4, 5}  # upper zones first
    assert "unilateral" in img.features
    moderate = xr("indeterminate", "moderate", variant="unilateral", seed=seed)
    assert moderate.zones is not None
    touched = set(np.unique(moderate.zones[moderate.opacity_mask]).tolist()) - {0}
    assert max(len(touched & {1, 2, 3}), len(touched & {4, 5, 6})) == 3


def test_radiograph_opacity_adds_density_where_masked() -> None:
    clear = xr("negative", None, seed=5)
    sick = xr("typical", "severe", seed=5)
    mask = sick.opacity_mask
    gain = sick.pixels[mask].astype(float).mean() - clear.pixels[mask].astype(float).mean()
    assert gain > 150
    away = ~ndimage.binary_dilation(mask, iterations=8)
    diff = np.abs(sick.pixels[away].astype(float) - clear.pixels[away].astype(float))
    assert np.median(diff) < 40  # elsewhere only the detector noise differs


@pytest.mark.parametrize("variant", XR_VARIANTS[Appearance.ATYPICAL])
def test_radiograph_atypical_variants(variant: str) -> None:
    img = xr("atypical", "mild", variant=variant)
    assert img.variant == variant
    assert 1 <= img.zones_involved <= 2
    assert img.summary


def test_radiograph_is_deterministic() -> None:
    a = make_chest_radiograph("typical", "moderate", seed=9, size=192)
    b = make_chest_radiograph("typical", "moderate", seed=9, size=192)
    c = make_chest_radiograph("typical", "moderate", seed=10, size=192)
    assert np.array_equal(a.pixels, b.pixels)
    assert np.array_equal(a.opacity_mask, b.opacity_mask)
    assert not np.array_equal(a.pixels, c.pixels)


def test_radiograph_ap_and_pa_differ() -> None:
    ap, pa = xr("negative", None, view="AP"), xr("negative", None, view="PA")
    assert not np.array_equal(ap.pixels, pa.pixels)


def test_radiograph_argument_errors() -> None:
    with pytest.raises(UsageError, match="severity must be None"):
        make_chest_radiograph("negative", "mild", seed=1, size=128)
    with pytest.raises(UsageError, match="expected 'AP' or 'PA'"):
        make_chest_radiograph("typical", "mild", seed=1, size=128, view="lateral")
    with pytest.raises(UsageError, match="not a variant of typical radiographs"):
        make_chest_radiograph("typical", "mild", seed=1, size=128, variant="cavity")
    assert make_chest_radiograph("typical", None, seed=1, size=128).severity is Severity.MILD
