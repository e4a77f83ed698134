"""ARS002: a task reading back its own XCom as if it survived to the next attempt."""

from __future__ import annotations

from airflow.sdk import DAG, BaseOperator, get_current_context, task


class SubmitAndPollOperator(BaseOperator):
    def execute(self, context):
        ti = context["ti"]
        job_id = ti.xcom_pull(key="job_id")  # expect: ARS002
        if not job_id:
            job_id = "j-1"
            ti.xcom_push(key="job_id", value=job_id)
        cursor = context["ti"].xcom_pull(task_ids=self.task_id, key="cursor")  # expect: ARS002
        return job_id, cursor


with DAG(dag_id="ars002_bad", schedule=None):

    @task(task_id="crawl")
    def crawl_pages(ti=None):
        page = ti.xcom_pull(task_ids="crawl", key="next_page") or 0  # expect: ARS002
        ti.xcom_push(key="next_page", value=page + 1)

    @task
    def poll():
        ctx = get_current_context()
        return ctx["ti"].xcom_pull(task_ids=None, key="run_id")  # expect: ARS002

    @task
    def resume(task_instance=None):
        return task_instance.xcom_pull("resume", key="offset")  # expect: ARS002

    @task
    def own_id(ti=None):
        return ti.xcom_pull(task_ids=ti.task_id, key="job")  # expect: ARS002

    crawl_pages() >> poll() >> resume() >> own_id() >> SubmitAndPollOperator(task_id="submit")
