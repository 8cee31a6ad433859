"""Find the faces in a video with an identify-face task: create it, poll it with backoff, read its faces.

python docs/examples/identify_face_task.py http://127.0.0.1:8000
"""

import sys
import time

import httpx

base_url = sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:8000"

with httpx.Client(base_url=base_url, headers={"Authorization": "Bearer any-token"}) as kling:
    created = kling.post(
        "/kling/v1/videos/identify-face",
        json={
            "input": {
                "video_url": "https://example.com/faces-2.mp4",
                "mode": "audio2video",
                "audio_type": "url",
                "audio_url": "https://example.com/voice.mp3",
            }
        },
    ).json()
    task_id, delay = created["data"]["task_id"], 1.0  # the spec asks for at most one poll a second
    while True:
        task = kling.get(f"/kling/v1/videos/identify-face/{task_id}").json()["data"]
        if task["task_status"] in ("succeed", "failed"):
            break
        time.sleep(delay)
        delay = min(delay * 2, 8)  # poll with backoff
    if task["task_status"] == "succeed":
        for face in task["task_result"]["face_data"]:
            print(face["face_id"], face["start_time"], face["end_time"])
    else:
        print("failed:", task["task_status_msg"])
