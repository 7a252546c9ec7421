"""kcover: coverage data selection in a chosen geometry, and whether that geometry pays.

Data flows one way: features -> kernel -> selector -> learner -> metrics.
"""

from kcover.facility_location import evaluate_sequence as evaluate_sequence
from kcover.facility_location import facility_location as facility_location
from kcover.facility_location import facility_location_dense as facility_location_dense
from kcover.facility_location import objective as objective
from kcover.kcenter import k_center as k_center
from kcover.kernels import Kernel as Kernel
from kcover.kernels import gram as gram
from kcover.kernels import make_kernel as make_kernel
from kcover.kernels import median_bandwidth as median_bandwidth
from kcover.krr import KRRModel as KRRModel
from kcover.krr import krr_fit as krr_fit
from kcover.krr import krr_predict as krr_predict
from kcover.krr import krr_risk as krr_risk
from kcover.krr import one_hot as one_hot
from kcover.result import Selection as Selection
from kcover.selection import random_subset as random_subset
from kcover.selection import select as select
from kcover.spectral import alignment as alignment
from kcover.spectral import centered_alignment as centered_alignment
from kcover.spectral import effective_dimension as effective_dimension
from kcover.spectral import feature_alignment as feature_alignment
from kcover.spectral import gram_eigenvalues as gram_eigenvalues
from kcover.spectral import tail_energy as tail_energy
from kcover.spectral import target_alignment as target_alignment

__version__ = "0.1.0"
