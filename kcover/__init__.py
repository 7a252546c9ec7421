"""kcover: coverage data selection in a chosen geometry, and whether that geometry pays.

Data flows one way: features -> kernel -> selector -> learner -> metrics.
"""

from kcover.advisor.entry import Advice as Advice
from kcover.advisor.entry import advise as advise
from kcover.advisor.options import AdviseOptions as AdviseOptions
from kcover.advisor.render import plot_sweep as plot_sweep
from kcover.data.estimator import FacilityLocationSelection as FacilityLocationSelection
from kcover.data.subset import select_dataset as select_dataset
from kcover.featurize import hash_text as hash_text
from kcover.featurize import pixel_features as pixel_features
from kcover.kernels import Kernel as Kernel
from kcover.kernels import gram as gram
from kcover.kernels import make_kernel as make_kernel
from kcover.kernels import median_bandwidth as median_bandwidth
from kcover.learn.krr import KRRModel as KRRModel
from kcover.learn.krr import krr_fit as krr_fit
from kcover.learn.krr import krr_predict as krr_predict
from kcover.learn.krr import krr_risk as krr_risk
from kcover.learn.krr import one_hot as one_hot
from kcover.learn.probe import Probe as Probe
from kcover.learn.probe import fit_probe as fit_probe
from kcover.learn.probe import predict_probe as predict_probe
from kcover.learn.probe import probe_accuracy as probe_accuracy
from kcover.selection.ann import knn_graph as knn_graph
from kcover.selection.entry import random_subset as random_subset
from kcover.selection.entry import select as select
from kcover.selection.facility_location import evaluate_sequence as evaluate_sequence
from kcover.selection.facility_location import facility_location as facility_location
from kcover.selection.facility_location import facility_location_dense as facility_location_dense
from kcover.selection.facility_location import objective as objective
from kcover.selection.kcenter import k_center as k_center
from kcover.selection.knn import facility_location_knn as facility_location_knn
from kcover.selection.knn import knn_similarity as knn_similarity
from kcover.selection.partition import facility_location_partitioned as facility_location_partitioned
from kcover.selection.result import Selection as Selection
from kcover.selection.sharding import facility_location_sharded as facility_location_sharded
from kcover.selection.sharding import target_mesh as target_mesh
from kcover.selection.sketch import target_sketch as target_sketch
from kcover.spectral import alignment as alignment
from kcover.spectral import centered_alignment as centered_alignment
from kcover.spectral import effective_dimension as effective_dimension
from kcover.spectral import feature_alignment as feature_alignment
from kcover.spectral import gram_eigenvalues as gram_eigenvalues
from kcover.spectral import tail_energy as tail_energy
from kcover.spectral import target_alignment as target_alignment

__all__ = [
    "Advice",
    "AdviseOptions",
    "FacilityLocationSelection",
    "KRRModel",
    "Kernel",
    "Probe",
    "Selection",
    "advise",
    "alignment",
    "centered_alignment",
    "effective_dimension",
    "evaluate_sequence",
    "facility_location",
    "facility_location_dense",
    "facility_location_knn",
    "facility_location_partitioned",
    "facility_location_sharded",
    "feature_alignment",
    "fit_probe",
    "gram",
    "gram_eigenvalues",
    "hash_text",
    "k_center",
    "knn_graph",
    "knn_similarity",
    "krr_fit",
    "krr_predict",
    "krr_risk",
    "make_kernel",
    "median_bandwidth",
    "objective",
    "one_hot",
    "pixel_features",
    "plot_sweep",
    "predict_probe",
    "probe_accuracy",
    "random_subset",
    "select",
    "select_dataset",
    "tail_energy",
    "target_alignment",
    "target_sketch",
    "target_mesh",
]

__version__ = "0.1.0"
