"""What kcover's own modules and benchmarks share beyond the public API. Not a stable interface.

Sister modules (:mod:`kcover.sharding`, :mod:`kcover.knn`) and the benchmarks import the
selection engine's parts from here, on purpose, instead of reaching into each other's private
names.
"""

from kcover.fl_greedy import COUNTS as COUNTS
from kcover.fl_greedy import STATIC as STATIC
from kcover.fl_greedy import greedy_jit as greedy_jit
from kcover.fl_greedy import greedy_loop as greedy_loop
from kcover.fl_greedy import run as run
from kcover.fl_greedy import sample_size as sample_size
from kcover.fl_greedy import to_selection as to_selection
from kcover.fl_options import COVERAGE as COVERAGE
from kcover.fl_options import DEFAULTS as DEFAULTS
from kcover.fl_options import CoverageKeywords as CoverageKeywords
from kcover.fl_options import FLKeywords as FLKeywords
from kcover.fl_options import auto_block as auto_block
from kcover.fl_options import check_floor as check_floor
from kcover.fl_options import decide_cache as decide_cache
from kcover.fl_options import keywords as keywords
from kcover.fl_options import prepare as prepare
from kcover.fl_options import resolve as resolve
from kcover.similarity import PRECISIONS as PRECISIONS
from kcover.similarity import DenseSimilarity as DenseSimilarity
from kcover.similarity import FeatureSimilarity as FeatureSimilarity
