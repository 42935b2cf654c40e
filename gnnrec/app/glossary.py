"""The app's words, explained where they appear: help tooltips (:data:`TERMS`) and each page's short
"How it works" (:data:`HOW`). One place, so a word means the same on every page. No Streamlit here.
"""

from __future__ import annotations

TERMS = {
    "gnn": "Graph neural network: it passes your ratings along a graph that links movies whose ratings move "
           "together, through a few learnt filters, and reads a prediction off every movie.",
    "gnn_list": "The GNN list comes from the ranking GNN: graph filters on the graph of movies rated together, "
                "trained to put first the movies a user goes on to rate (nDCG on held-out movies, not rating "
                "error). Its stars are the rating GNN's: graph filters on the correlation graph, trained to predict "
                "ratings.",
    "without_it": "Where the movie would rank in your list if you had not rated that movie (#1 = top).",
    "link": "How your rated movie and this one are joined: hops apart on the co-rating graph the GNN's filters "
            "run on (1 = neighbours), and the direct edge it learnt between them (+: one lifts the other).",
    "knn": "Item k-NN: the movie's mean rating, moved by how you rated the most correlated movies you have seen.",
    "knn_baseline": "Item k-NN with baselines (the classical recommender): a baseline for you and the movie "
                    "(overall mean + the movie's bias + your bias), plus how far your ratings of the most "
                    "similar movies sit above or below their own baselines.",
    "predicted": "The predicted rating, 1 to 5 stars (every prediction is clipped to that scale).",
    "both": "Ticked: the movie is in both models' top lists.",
    "raters": "How many MovieLens users rated the movie (out of 943).",
    "min_raters": "Skip movies that fewer MovieLens users rated: a handful of opinions gives extreme predictions.",
    "fallback": "The model could not use any of your ratings for this movie (none of them reaches it) and gave "
                "the movie's mean rating or baseline.",
    "baseline": "Where a prediction starts before your ratings of similar movies count: for the k-NN with "
                "baselines, everyone's average + the movie's bias + your bias.",
    "effect": "What one of your ratings adds to the prediction (+0.34: 0.34 higher because of it). k-NN: exact, "
              "the rows add up. GNN: leave-one-out through its graph, the prediction with that rating minus "
              "without it; your bias is its own line.",
    "weight": "How much a neighbour counts: its similarity to the movie, shared out so that the weights sum to 1.",
    "hops": "Steps on the GNN's graph from the nearest movie you rated; the GNN sees only so many hops far.",
    "nb_hops": "1: the movie's strongest neighbours; 2: also each neighbour's own strongest neighbours.",
    "correlation": "Pearson correlation of two movies' ratings over the users who rated both (-1 to +1), "
                   "shrunk towards 0 when few users rated both (times n / (n + λ), n = those users; λ = 25 "
                   "for the default model), as in the active model's graph.",
    "co_rating": "The weight of a link in the ranking GNN's graph (GF-CF's normalised co-rating graph): the users "
                 "who rated both movies, each counting 1 / the number of movies they rated, divided by the square "
                 "roots of how many users rated each movie; each movie's strongest links kept, scaled so that the "
                 "graph's largest eigenvalue is 1.",
    "nb_graph": "Correlation graph: movies whose ratings move together, the graph the rating GNN (stars) runs on. "
                "Co-rating graph: movies rated by the same users, the graph the ranking GNN (the GNN list) runs on.",
    "similarity": "How alike two movies' ratings are for the k-NN in use (k-NN + baselines: a shrunk Pearson "
                  "correlation of the ratings minus their baselines; k-NN: the graph's correlation). Only positive "
                  "similarities count.",
    "common_raters": "Users who rated both movies: a correlation over few of them means little.",
    "rmse": "Root mean squared error of the predicted ratings of test users, in stars: lower is better.",
    "valid_rmse": "RMSE on ratings held out from training (validation): how the saved weights were chosen; "
                  "lower is better.",
    "splits": "Random divisions of the target movie's raters into training, validation and test users; each "
              "split trains every model afresh.",
    "protocol": "The seed's protocol: for one target movie, its raters are split into train / validation / test "
                "users; every model predicts the test users' rating of that movie from their other ratings.",
    "panel": "The same protocol on a random panel of target movies nobody chose, so a result holds for "
             "'any movie', not only for the famous ones a recipe was tuned on.",
    "ratio": "The GNN's RMSE divided by the k-NN with baselines' RMSE on the same movie: below 1 the GNN is "
             "better.",
    "topn": "List quality, as recommender systems are measured: each user's ratings split 75/25 at random, every "
            "model lists its top 10 among the movies the user did not rate in the 75%, and a held-out movie in "
            "the list is a hit. nDCG counts hits higher up more (1 = every slot a hit, best first).",
    "hit_rate": "The share of users with at least one held-out movie in their list.",
    "liked": "The same nDCG when only held-out ratings of 4 or 5 count as hits.",
    "coverage": "The share of the 1,682 movies that appear in at least one user's list: low coverage means "
                "everyone gets the same blockbusters.",
    "popularity": "The mean number of training ratings of the listed movies: lower means less obvious picks.",
    "wins": "On how many panel movies the model has the lowest RMSE of all.",
    "preset": "A GNN recipe: 'seed' is the original project's settings, 'best' the tuned one (shrunk "
              "correlations, baseline input), 'transfer' starts from models trained on other movies.",
    "fingerprint": "A short hash of the ratings: models and results are tied to the data they were made on.",
    "taps": "Taps of a graph filter: how many powers of the graph it mixes; taps - 1 is how many hops one "
            "layer sees.",
    "widths": "Features per movie in each layer (the layer's width).",
    "k": "Graph neighbours: each movie keeps its k most correlated movies as edges of the graph.",
    "epochs": "Passes over all users during training.",
    "lr": "Learning rate: the step size of the optimiser (Adam).",
    "batch": "Users per optimiser step.",
    "seed": "Random seed: the same settings and seed train the same model.",
}

HOW = {
    "recommend": (
        "**How it works.** Your star ratings go to two models that both learnt from MovieLens-100K (943 users, "
        "100,000 ratings). The **GNN** passes them over a graph of movies whose ratings move together; the "
        "**k-NN with baselines** starts from a baseline (everyone's average, the movie's and your bias) and adds "
        "how you rated the most similar movies. Each list shows its model's best predictions among the movies "
        "you have not rated. Select a row to see why it is there; hidden movies leave the lists for this visit."),
    "neighbourhood": (
        "**How it works.** Two movies are neighbours when the people who rated both rated them alike "
        "(correlation). The k-NN predicts from your ratings of a movie's neighbours; the rating GNN passes your "
        "ratings along these links a few hops. The ranking GNN, whose list the Recommend page shows, runs on "
        "another graph: movies rated by the same users (**Graph**: co-rating). Click a node to centre the graph "
        "on it."),
    "compare": (
        "**How it works.** The seed's protocol: for a target movie, its raters are split at random into "
        "training, validation and test users; every model learns without the test users' rating of that movie "
        "and predicts it. RMSE measures the error in stars (lower is better). A panel repeats this on random "
        "movies, so one can see on which movies each model wins. **List quality (top-N)** measures the lists "
        "instead: each user's ratings split 75/25, each model's top 10 among the unrated movies, hits on the "
        "held-out ones."),
    "train": (
        "**How it works.** An all-movies GNN learns to predict ratings hidden from each user's profile, on "
        "every MovieLens rating except 5% kept for validation. The weights with the lowest validation RMSE are "
        "saved under a new name; choose it in the sidebar to get recommendations from it."),
}


def term(name: str) -> str:
    """The help text of a term (KeyError for an unknown one: a typo shows in the tests)."""
    return TERMS[name]
