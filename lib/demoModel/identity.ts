/**
 * The demo model's identity, shared by the server (which names the served model after its checkpoint folder) and the
 * browser (which says what the model is). Client-safe: no Node imports.
 */

/** The checkpoint folder's name (models/vlcache-demo), hence the served model's name on the API. */
export const DEMO_MODEL_NAME = "vlcache-demo";

export const DEMO_MODEL_DESCRIPTION = "vlcache demo model — trained on synthetic images";
