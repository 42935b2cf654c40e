"""gnnrec: graph-neural-network movie recommendations on MovieLens-100K (the Alelab method)."""

from .data import DataError, MovieLens
from .data import load as load_data
from .gnn import GNNPredictor, GNNPredictorConfig
from .graph import GraphConfig, ItemGraph
from .models import GNNConfig, LocalGNN
from .predict import ItemKNN, ItemMean, KNNBaseline, PredictionImpossible, Predictions, Predictor
from .presets import PRESETS
from .recommender import Recommendations, Recommender, recommend
from .store import StoreError
from .train import TrainConfig

__all__ = [
    "DataError", "MovieLens", "load_data", "PRESETS", "GNNPredictor", "GNNPredictorConfig", "GraphConfig",
    "ItemGraph", "GNNConfig", "LocalGNN", "ItemKNN", "ItemMean", "KNNBaseline", "PredictionImpossible", "Predictions",
    "Predictor", "Recommendations", "Recommender", "recommend", "StoreError", "TrainConfig",
]
__version__ = "0.1.0"
