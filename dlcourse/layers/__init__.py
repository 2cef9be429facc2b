"""Custom layers, constraints and regularizers, all serializable under package ``dlcourse``.

Each helper module registers its objects with
``@keras.saving.register_keras_serializable(package="dlcourse")``; importing
``dlcourse.layers`` registers them all, so ``keras.models.load_model`` finds them.
"""
# One import line per module (kept in this order; each unit adds its own line).
