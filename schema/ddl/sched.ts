// DDL of the scheduler (schema version 2): the paper's Task and Worker tables
// (section 4.2), task dependencies, the policy registry, and the policies as
// stored procedures, so that one scheduling decision is one CALL: one round
// trip and one transaction.
//
// Invariants the database itself keeps:
// - capacity and memory never go negative (CHECK constraints on Worker);
// - no task is assigned twice: every procedure locks the Task row and only
//   assigns a task whose state is still 'queued';
// - concurrent schedulers do not queue on the same worker: they pick workers
//   with FOR UPDATE SKIP LOCKED.

const TABLES = [
  `CREATE TABLE IF NOT EXISTS Worker (
     p_key INT NOT NULL,
     worker_id BIGINT NOT NULL AUTO_INCREMENT,
     unused_capacity INT NOT NULL,
     capacity INT NOT NULL,
     memory_total BIGINT NOT NULL,
     memory_free BIGINT NOT NULL,
     state ENUM('alive','dead','stopped') NOT NULL DEFAULT 'alive',
     host_name VARCHAR(255) NOT NULL,
     pid INT NOT NULL,
     started_at DATETIME(6) NOT NULL,
     heartbeat_at DATETIME(6) NOT NULL,
     PRIMARY KEY (p_key, worker_id),
     UNIQUE KEY by_id (worker_id),
     KEY free_here (p_key, unused_capacity),
     KEY free_anywhere (unused_capacity),
     CONSTRAINT capacity_in_range CHECK (unused_capacity >= 0 AND unused_capacity <= capacity),
     CONSTRAINT memory_in_range CHECK (memory_free >= 0 AND memory_free <= memory_total)
   ) ENGINE=InnoDB`,
  `CREATE TABLE IF NOT EXISTS Task (
     p_key INT NOT NULL,
     task_id BIGINT NOT NULL AUTO_INCREMENT,
     worker_id BIGINT NULL,
     state ENUM('waiting','queued','assigned','running','succeeded','failed','cancelled') NOT NULL,
     policy VARCHAR(64) NOT NULL,
     priority INT NOT NULL DEFAULT 0,
     memory BIGINT NOT NULL DEFAULT 0,
     home_partition INT NOT NULL,
     owner VARCHAR(64) NOT NULL,
     uid INT UNSIGNED NOT NULL,
     gid INT UNSIGNED NOT NULL,
     name VARCHAR(255) NULL,
     command JSON NOT NULL,
     env JSON NOT NULL,
     cwd VARBINARY(4096) NOT NULL,
     stdout_path VARBINARY(4096) NULL,
     stderr_path VARBINARY(4096) NULL,
     submit_time DATETIME(6) NOT NULL,
     assign_time DATETIME(6) NULL,
     start_time DATETIME(6) NULL,
     end_time DATETIME(6) NULL,
     pid INT NULL,
     exit_status INT NULL,
     term_signal VARCHAR(16) NULL,
     attempts INT NOT NULL DEFAULT 0,
     max_attempts INT NOT NULL DEFAULT 3,
     cancel_requested BOOLEAN NOT NULL DEFAULT FALSE,
     error VARCHAR(1024) NULL,
     PRIMARY KEY (task_id),
     KEY queue (state, priority DESC, task_id),
     KEY queue_here (state, p_key, priority DESC, task_id),
     KEY by_worker (worker_id, state),
     CONSTRAINT attempts_in_range CHECK (attempts >= 0 AND max_attempts >= 1)
   ) ENGINE=InnoDB`,
  `CREATE TABLE IF NOT EXISTS Task_dep (
     task_id BIGINT NOT NULL,
     after_id BIGINT NOT NULL,
     PRIMARY KEY (task_id, after_id),
     KEY by_prerequisite (after_id)
   ) ENGINE=InnoDB`,
  `CREATE TABLE IF NOT EXISTS Sched_policy (
     name VARCHAR(64) NOT NULL PRIMARY KEY,
     procedure_name VARCHAR(64) NOT NULL,
     partition_arg ENUM('random','home') NOT NULL,
     description VARCHAR(255) NOT NULL
   ) ENGINE=InnoDB`,
];

/**
 * Assigns a locked, queued task to a worker whose row the caller has locked:
 * the common tail of every policy (the paper's "same code as FIFO").
 */
const ASSIGN = `CREATE OR REPLACE PROCEDURE sched_assign(IN tid BIGINT, IN wid BIGINT, IN p INT, IN mem BIGINT)
MODIFIES SQL DATA
BEGIN
  UPDATE Worker SET unused_capacity = unused_capacity - 1, memory_free = memory_free - mem
   WHERE p_key = p AND worker_id = wid;
  UPDATE Task SET worker_id = wid, p_key = p, state = 'assigned', assign_time = NOW(6)
   WHERE task_id = tid;
END`;

/**
 * Picks a worker with room in a partition into wid, through the capacity
 * index: "any worker with room" (FIFO, locality) takes the fullest one that
 * still has room, which packs work onto few workers; "the most room"
 * (least-loaded) the emptiest. SKIP LOCKED lets concurrent schedulers take
 * the next worker instead of waiting for each other.
 */
function pickIn(partition: string, order: 'any' | 'most-room'): string {
  return `SELECT worker_id INTO wid FROM Worker FORCE INDEX (free_here)
       WHERE p_key = ${partition} AND unused_capacity > 0 AND memory_free >= mem
       ORDER BY unused_capacity ${order === 'any' ? 'ASC' : 'DESC'} LIMIT 1 FOR UPDATE SKIP LOCKED;`;
}

/**
 * A policy as a procedure: one transaction that locks the task (mem stays
 * NULL unless it is still queued), lets `body` choose a worker into wid, and
 * returns the choice with its partition (`chosen`, an expression).
 */
function policyProcedure(name: string, partitionArg: string, declares: string[], body: string, chosen: string): string {
  return `CREATE OR REPLACE PROCEDURE ${name}(IN tid BIGINT, IN ${partitionArg} INT)
MODIFIES SQL DATA
BEGIN
${[...declares, 'wid BIGINT DEFAULT NULL', 'mem BIGINT DEFAULT NULL'].map((d) => `  DECLARE ${d};`).join('\n')}
  DECLARE EXIT HANDLER FOR SQLEXCEPTION BEGIN ROLLBACK; RESIGNAL; END;
  SET TRANSACTION ISOLATION LEVEL READ COMMITTED;
  START TRANSACTION;
  SELECT IF(state = 'queued', memory, NULL) INTO mem FROM Task WHERE task_id = tid FOR UPDATE;
  IF mem IS NOT NULL THEN
${body}
  END IF;
  COMMIT;
  SELECT wid AS worker_id, ${chosen} AS p_key;
END`;
}

/**
 * A policy that scans partitions in turn, starting at start_p, until one has
 * a worker with room: FIFO takes any, least-loaded the one with most room.
 */
function partitionScan(name: string, order: 'any' | 'most-room'): string {
  return policyProcedure(name, 'start_p', ['n INT DEFAULT 0', 'i INT DEFAULT 0', 'p INT DEFAULT NULL'], `
    SELECT COUNT(*) INTO n FROM Map;
    WHILE wid IS NULL AND i < n DO
      SET p = MOD(start_p + i, n);
      ${pickIn('p', order)}
      SET i = i + 1;
    END WHILE;
    IF wid IS NOT NULL THEN
      CALL sched_assign(tid, wid, p, mem);
    END IF;`, 'IF(wid IS NULL, NULL, p)');
}

/** Locality-aware: only the home partition; otherwise the task waits there, unassigned. */
const LOCALITY = policyProcedure('sched_locality', 'hp', [], `
    ${pickIn('hp', 'any')}
    IF wid IS NOT NULL THEN
      CALL sched_assign(tid, wid, hp, mem);
    ELSE
      UPDATE Task SET p_key = hp WHERE task_id = tid;
    END IF;`, 'IF(wid IS NULL, NULL, hp)');

/** Least-loaded across all partitions: the paper's variant without "p_key = P". */
const LEAST_LOADED_GLOBAL = policyProcedure('sched_least_loaded_global', 'unused', ['p INT DEFAULT NULL'], `
    SELECT worker_id, p_key INTO wid, p FROM Worker FORCE INDEX (free_anywhere)
     WHERE unused_capacity > 0 AND memory_free >= mem
     ORDER BY unused_capacity DESC LIMIT 1 FOR UPDATE SKIP LOCKED;
    IF wid IS NOT NULL THEN
      CALL sched_assign(tid, wid, p, mem);
    END IF;`, 'p');

/**
 * Cancels every task still waiting on a failed or cancelled prerequisite,
 * transitively (one pass per level of the graph).
 */
const CANCEL_DEPENDENTS = `CREATE OR REPLACE PROCEDURE sched_cancel_dependents()
MODIFIES SQL DATA
BEGIN
  REPEAT
    UPDATE Task t
      JOIN Task_dep d ON d.task_id = t.task_id
      JOIN Task x ON x.task_id = d.after_id
       SET t.state = 'cancelled', t.end_time = NOW(6),
           t.error = CONCAT('prerequisite task ', x.task_id, ' ', x.state)
     WHERE t.state = 'waiting' AND x.state IN ('failed', 'cancelled');
  UNTIL ROW_COUNT() = 0 END REPEAT;
END`;

/**
 * A worker reports a task done: records the outcome, frees the capacity,
 * releases (or cancels) the tasks that waited for it, and hands the freed room
 * at once to the next task that may take any worker: a locality task waiting
 * in this partition, else the oldest queued FIFO task (work-conserving; the
 * daemon places the rest).
 */
const FINISH = `CREATE OR REPLACE PROCEDURE task_finish(IN tid BIGINT, IN wid BIGINT, IN outcome VARCHAR(16),
                                               IN code INT, IN sig VARCHAR(16), IN err VARCHAR(1024))
MODIFIES SQL DATA
BEGIN
  DECLARE mem BIGINT DEFAULT NULL;
  DECLARE p INT DEFAULT NULL;
  DECLARE room BIGINT DEFAULT 0;
  DECLARE next_tid BIGINT DEFAULT NULL;
  DECLARE next_mem BIGINT DEFAULT NULL;
  DECLARE EXIT HANDLER FOR SQLEXCEPTION BEGIN ROLLBACK; RESIGNAL; END;
  SET TRANSACTION ISOLATION LEVEL READ COMMITTED;
  START TRANSACTION;
  SELECT IF(worker_id = wid AND state IN ('assigned', 'running'), memory, NULL), p_key INTO mem, p
    FROM Task WHERE task_id = tid FOR UPDATE;
  IF mem IS NOT NULL THEN
    UPDATE Task SET state = outcome, exit_status = code, term_signal = sig, error = err, end_time = NOW(6)
     WHERE task_id = tid;
    UPDATE Worker SET unused_capacity = unused_capacity + 1, memory_free = memory_free + mem
     WHERE p_key = p AND worker_id = wid AND state = 'alive';
    IF NOT EXISTS (SELECT 1 FROM Task_dep WHERE after_id = tid) THEN
      SET outcome = outcome;  -- nothing waits for this task
    ELSEIF outcome = 'succeeded' THEN
      UPDATE Task t SET t.state = 'queued'
       WHERE t.state = 'waiting'
         AND t.task_id IN (SELECT d.task_id FROM Task_dep d WHERE d.after_id = tid)
         AND NOT EXISTS (SELECT 1 FROM Task_dep d2 JOIN Task x ON x.task_id = d2.after_id
                          WHERE d2.task_id = t.task_id AND x.state <> 'succeeded');
    ELSE
      CALL sched_cancel_dependents();
    END IF;
    SELECT IF(state = 'alive' AND unused_capacity > 0, memory_free, -1) INTO room
      FROM Worker WHERE p_key = p AND worker_id = wid FOR UPDATE;
    IF room >= 0 THEN
      SELECT task_id, memory INTO next_tid, next_mem FROM Task FORCE INDEX (queue_here)
       WHERE state = 'queued' AND p_key = p AND policy = 'locality' AND memory <= room
       ORDER BY priority DESC, task_id LIMIT 1 FOR UPDATE SKIP LOCKED;
      IF next_tid IS NULL THEN
        SELECT task_id, memory INTO next_tid, next_mem FROM Task FORCE INDEX (queue)
         WHERE state = 'queued' AND policy = 'fifo' AND memory <= room
         ORDER BY priority DESC, task_id LIMIT 1 FOR UPDATE SKIP LOCKED;
      END IF;
      IF next_tid IS NOT NULL THEN
        CALL sched_assign(next_tid, wid, p, next_mem);
      END IF;
    END IF;
  END IF;
  COMMIT;
  SELECT mem IS NOT NULL AS recorded, next_tid AS dispatched;
END`;

/**
 * Declares workers that stopped heartbeating dead and puts their tasks back in
 * the queue, or fails them once they have used their attempts.
 */
const REAP = `CREATE OR REPLACE PROCEDURE sched_reap(IN timeout_s DOUBLE)
MODIFIES SQL DATA
BEGIN
  DECLARE dead INT DEFAULT 0;
  DECLARE requeued INT DEFAULT 0;
  DECLARE failed INT DEFAULT 0;
  DECLARE EXIT HANDLER FOR SQLEXCEPTION BEGIN ROLLBACK; RESIGNAL; END;
  SET TRANSACTION ISOLATION LEVEL READ COMMITTED;
  START TRANSACTION;
  UPDATE Worker SET state = 'dead', unused_capacity = 0, memory_free = 0
   WHERE state = 'alive' AND heartbeat_at < NOW(6) - INTERVAL timeout_s SECOND;
  SET dead = ROW_COUNT();
  UPDATE Task t JOIN Worker w ON w.worker_id = t.worker_id
     SET t.state = 'failed', t.end_time = NOW(6),
         t.error = CONCAT('worker ', w.worker_id, ' died; no attempts left (', t.attempts, ' of ', t.max_attempts, ')')
   WHERE w.state <> 'alive' AND t.state IN ('assigned', 'running') AND t.attempts >= t.max_attempts;
  SET failed = ROW_COUNT();
  UPDATE Task t JOIN Worker w ON w.worker_id = t.worker_id
     SET t.state = 'queued', t.worker_id = NULL, t.pid = NULL, t.start_time = NULL, t.assign_time = NULL,
         t.error = CONCAT('worker ', w.worker_id, ' died; queued again')
   WHERE w.state <> 'alive' AND t.state IN ('assigned', 'running');
  SET requeued = ROW_COUNT();
  IF failed > 0 THEN
    CALL sched_cancel_dependents();
  END IF;
  COMMIT;
  SELECT dead, requeued, failed;
END`;

const POLICIES = `INSERT IGNORE INTO Sched_policy (name, procedure_name, partition_arg, description) VALUES
  ('fifo', 'sched_fifo', 'random', 'a random partition; the next ones in turn until one has a worker with room'),
  ('locality', 'sched_locality', 'home', 'the partition of the task''s home directory; waits there while it is full'),
  ('least-loaded', 'sched_least_loaded', 'random', 'the worker with the most unused capacity in a random partition (then the next ones)'),
  ('least-loaded-global', 'sched_least_loaded_global', 'random', 'the worker with the most unused capacity in any partition')`;

export const SCHEDULER_OBJECTS: string[] = [
  ...TABLES,
  ASSIGN,
  partitionScan('sched_fifo', 'any'),
  partitionScan('sched_least_loaded', 'most-room'),
  LOCALITY,
  LEAST_LOADED_GLOBAL,
  CANCEL_DEPENDENTS,
  FINISH,
  REAP,
  POLICIES,
];
