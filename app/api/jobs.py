"""Background ingest jobs: what `POST /documents?wait=false` and `PUT ...?wait=false` queued."""

from __future__ import annotations

from fastapi import APIRouter

from app.api.deps import JobsDep
from app.api.mappers import job_to_public
from app.api.schemas import JobPublic
from app.errors import JobNotFound

router = APIRouter(prefix="/jobs", tags=["jobs"])


@router.get("/{job_id}", response_model=JobPublic)
def get_job(job_id: str, jobs: JobsDep) -> JobPublic:
    """A job's status (queued, parsing, embedding, ready, failed), progress and error."""
    job = jobs.get(job_id)
    if job is None:
        raise JobNotFound(job_id)
    return job_to_public(job)
