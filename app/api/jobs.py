"""Background ingest jobs: what `POST /documents?wait=false` and `PUT ...?wait=false` queued."""

from __future__ import annotations

from fastapi import APIRouter

from app.api.deps import ContainerDep
from app.api.schemas import ErrorDetail, JobPublic
from app.errors import JobNotFound
from ingest.jobs import JobRecord

router = APIRouter(prefix="/jobs", tags=["jobs"])


def job_to_public(job: JobRecord) -> JobPublic:
    return JobPublic(
        id=job.id,
        kind=job.kind,
        status=job.status,
        progress=job.progress,
        document_id=job.document_id,
        filename=job.filename,
        created=job.created,
        error=(
            ErrorDetail(code=job.error_code or "ingest_failed", message=job.error or "")
            if job.status == "failed"
            else None
        ),
        created_at=job.created_at,
        updated_at=job.updated_at,
    )


@router.get("/{job_id}", response_model=JobPublic)
def get_job(job_id: str, container: ContainerDep) -> JobPublic:
    """A job's status (queued, parsing, embedding, ready, failed), progress and error."""
    job = container.jobs.get(job_id) if container.jobs is not None else None
    if job is None:
        raise JobNotFound(job_id)
    return job_to_public(job)
