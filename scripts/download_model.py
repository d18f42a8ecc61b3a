"""Download a hub model into resources/models/<model> (run on the login node: a localrule)."""

import logging
import sys

from maft import cli
from maft.hub import ModelDownloadError, download_model

p = cli.parser(__doc__)
p.add_argument("--out", required=True)
args = p.parse_args()
cli.setup(args)
model = args.params["model"]
try:
    download_model(model["source"], args.out)
except ModelDownloadError as err:
    logging.getLogger("maft").error("%s", err)
    sys.exit(1)
