"""Every table of the platform: each package's models imported, so that `Base.metadata`
is whole (Alembic's migrations, create_all in the tests) and every relationship finds its
class before the first query."""
from voting.core.models import Base
from voting.audit import models as audit_models
from voting.commitments import models as commitments_models
from voting.components import models as components_models
from voting.deadlines import models as deadlines_models
from voting.integrity import models as integrity_models
from voting.jobs import models as jobs_models
from voting.lists import models as lists_models
from voting.online import models as online_models
from voting.outbox import models as outbox_models
from voting.ratings import models as ratings_models
from voting.schemes import models as schemes_models
from voting.scores import models as scores_models
from voting.staff import models as staff_models
from voting.survey import models as survey_models

# the modules above, named so that no tool removes their import as unused
MODELS = (audit_models, commitments_models, components_models, deadlines_models, integrity_models, jobs_models, lists_models, online_models, outbox_models, ratings_models, schemes_models, scores_models, staff_models, survey_models)

__all__ = ["MODELS", "Base"]
