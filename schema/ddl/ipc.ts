// DDL of inter-process messaging (schema version 3): the paper's Message table
// (section 4.3), keyed first on the receiver as the paper partitions it, the
// mailboxes it goes to, and one queue per (mailbox, topic) holding two cursors.
//
// Sending locks the receiver's queue row to take the next message_id and
// inserts the message, in one transaction and one CALL, also for a multicast
// to many receivers (all or nothing). Holding the queue row until commit makes
// ids commit in order, so a receiver can read "everything after my cursor"
// and never misses a message that commits late.
//
// Receiving (ipc_recv) locks the queue row, advances read_seq over the next
// batch, deletes the batch before it (the next receive is the
// acknowledgement), and returns the batch. Receives never scan consumed rows:
// they read a primary-key range after the cursor, so a queue stays fast
// however much has passed through it. A receive retried with the same request
// id (its answer was lost with the connection) returns the same batch: every
// committed message is returned by exactly one receive, never lost, never twice.

/** What Message and Message_history share: a message. */
const MESSAGE_COLUMNS = `receiver_id VARBINARY(255) NOT NULL,
     topic VARBINARY(255) NOT NULL,
     message_id BIGINT NOT NULL,
     sender_id VARBINARY(255) NOT NULL,
     data MEDIUMBLOB NOT NULL,
     sent_at DATETIME(6) NOT NULL`;

const TABLES = [
  `CREATE TABLE IF NOT EXISTS Mailbox (
     name VARBINARY(255) NOT NULL PRIMARY KEY,
     owner VARCHAR(64) NOT NULL,
     p_key INT NOT NULL,
     keep_history BOOLEAN NOT NULL DEFAULT FALSE,
     created_at DATETIME(6) NOT NULL
   ) ENGINE=InnoDB`,
  // batch_lo..batch_hi is the last batch handed out (empty when lo > hi):
  // kept until the next receive from this queue acknowledges it.
  `CREATE TABLE IF NOT EXISTS Message_queue (
     receiver_id VARBINARY(255) NOT NULL,
     topic VARBINARY(255) NOT NULL,
     next_seq BIGINT NOT NULL,
     read_seq BIGINT NOT NULL DEFAULT 0,
     last_request BIGINT NULL,
     batch_lo BIGINT NOT NULL DEFAULT 1,
     batch_hi BIGINT NOT NULL DEFAULT 0,
     batch_at DATETIME(6) NULL,
     PRIMARY KEY (receiver_id, topic),
     CONSTRAINT cursors_in_order CHECK (read_seq <= next_seq AND batch_hi <= read_seq),
     CONSTRAINT queue_of_mailbox FOREIGN KEY (receiver_id) REFERENCES Mailbox (name) ON DELETE CASCADE
   ) ENGINE=InnoDB`,
  `CREATE TABLE IF NOT EXISTS Message (
     ${MESSAGE_COLUMNS},
     PRIMARY KEY (receiver_id, topic, message_id),
     CONSTRAINT message_in_queue FOREIGN KEY (receiver_id, topic) REFERENCES Message_queue (receiver_id, topic) ON DELETE CASCADE
   ) ENGINE=InnoDB`,
  `CREATE TABLE IF NOT EXISTS Message_history (
     ${MESSAGE_COLUMNS},
     received_at DATETIME(6) NOT NULL,
     PRIMARY KEY (receiver_id, topic, message_id),
     KEY by_time (received_at)
   ) ENGINE=InnoDB`,
  // In flight: sent and not yet received.
  `CREATE OR REPLACE VIEW Message_waiting AS
     SELECT m.receiver_id, m.topic, m.message_id, m.sender_id, m.data, m.sent_at
       FROM Message m JOIN Message_queue q ON q.receiver_id = m.receiver_id AND q.topic = m.topic
      WHERE m.message_id > q.read_seq`,
];

/** The first waiting message of each of r's queues that has one. */
const HEADS = `Message_queue q JOIN Message m ON m.receiver_id = q.receiver_id AND m.topic = q.topic AND m.message_id = q.read_seq + 1
        WHERE q.receiver_id = r AND q.read_seq < q.next_seq`;

// Items of a send, one per message, as a JSON array of
// [receiver, topic, pos, cnt, off, len]: the message is bytes off..off+len of
// the payload, and the pos-th of the cnt messages this send puts in the
// (receiver, topic) queue. Only the receiver is required: the topic defaults
// to '', pos and cnt to 1, and the range to the whole payload, so from SQL
// '[["bob"], ["carol", "news"]]' sends the payload to bob and to carol's
// topic news. Clients sort items by (receiver, topic), so concurrent sends
// lock queues in one order and never deadlock.
const ITEMS = `JSON_TABLE(items, '$[*]' COLUMNS (
    name VARBINARY(255) PATH '$[0]', topic VARBINARY(255) PATH '$[1]' DEFAULT '' ON EMPTY,
    pos INT PATH '$[2]' DEFAULT '1' ON EMPTY, cnt INT PATH '$[3]' DEFAULT '1' ON EMPTY,
    off INT PATH '$[4]' DEFAULT '0' ON EMPTY, len INT PATH '$[5]')) i`;

/**
 * ipc_send(sender, items, payload): all the messages in one transaction,
 * all or nothing. One item (the common case) takes a path without
 * JSON_TABLE. A receiver without a mailbox fails the foreign key (error
 * 1452) and the handler rolls everything back.
 */
const SEND = `CREATE OR REPLACE PROCEDURE ipc_send(IN sender VARBINARY(255), IN items JSON, IN payload LONGBLOB)
MODIFIES SQL DATA
BEGIN
  DECLARE r VARBINARY(255);
  DECLARE t VARBINARY(255);
  DECLARE off, len BIGINT;
  DECLARE EXIT HANDLER FOR SQLEXCEPTION BEGIN ROLLBACK; RESIGNAL; END;
  IF COALESCE(JSON_LENGTH(items), 0) = 0 THEN
    SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'ipc_send needs a JSON array of at least one [receiver, topic] item';
  END IF;
  SET TRANSACTION ISOLATION LEVEL READ COMMITTED;
  START TRANSACTION;
  IF JSON_LENGTH(items) = 1 THEN
    SET r = JSON_VALUE(items, '$[0][0]');
    SET t = COALESCE(JSON_VALUE(items, '$[0][1]'), '');
    INSERT INTO Message_queue (receiver_id, topic, next_seq) VALUES (r, t, LAST_INSERT_ID(1))
      ON DUPLICATE KEY UPDATE next_seq = LAST_INSERT_ID(next_seq + 1);
    SET off = COALESCE(JSON_VALUE(items, '$[0][4]'), 0);
    SET len = COALESCE(JSON_VALUE(items, '$[0][5]'), LENGTH(payload) - off);
    INSERT INTO Message (receiver_id, topic, message_id, sender_id, data, sent_at)
      VALUES (r, t, LAST_INSERT_ID(), sender, IF(off = 0 AND len = LENGTH(payload), payload, SUBSTRING(payload, off + 1, len)), NOW(6));
  ELSE
    INSERT INTO Message_queue (receiver_id, topic, next_seq)
      SELECT i.name, i.topic, i.cnt FROM ${ITEMS} WHERE i.pos = 1
      ON DUPLICATE KEY UPDATE next_seq = next_seq + VALUES(next_seq);
    -- Each queue now ends at next_seq: this send's messages are its last cnt ids.
    INSERT INTO Message (receiver_id, topic, message_id, sender_id, data, sent_at)
      SELECT i.name, i.topic, q.next_seq - i.cnt + i.pos, sender,
             SUBSTRING(payload, i.off + 1, COALESCE(i.len, LENGTH(payload) - i.off)), NOW(6)
        FROM ${ITEMS} JOIN Message_queue q ON q.receiver_id = i.name AND q.topic = i.topic;
  END IF;
  COMMIT;
END`;

/**
 * ipc_recv(receiver, topic or NULL for any, at most n, this request, whether
 * it retries a request whose answer was lost): the next batch of one queue.
 * Without a topic it takes the queue whose first waiting message is oldest,
 * and stops before any message sent after another queue's first waiting one,
 * so a receiver of all topics gets each sender's messages in sending order.
 * Each row also says whether more was waiting.
 */
const RECV = `CREATE OR REPLACE PROCEDURE ipc_recv(IN r VARBINARY(255), IN t VARBINARY(255), IN n INT, IN req BIGINT, IN retry BOOLEAN)
MODIFIES SQL DATA
BEGIN
  DECLARE pick VARBINARY(255) DEFAULT NULL;
  DECLARE pending INT DEFAULT 0;
  DECLARE bound DATETIME(6) DEFAULT NULL;
  DECLARE cur BIGINT DEFAULT NULL;
  DECLARE top BIGINT DEFAULT 0;
  DECLARE lo BIGINT DEFAULT 1;
  DECLARE hi BIGINT DEFAULT 0;
  DECLARE EXIT HANDLER FOR SQLEXCEPTION BEGIN ROLLBACK; RESIGNAL; END;
  SET TRANSACTION ISOLATION LEVEL READ COMMITTED;
  START TRANSACTION;
  IF retry THEN
    SELECT topic, next_seq, batch_lo, batch_hi INTO pick, top, lo, hi FROM Message_queue
     WHERE receiver_id = r AND last_request = req AND (t IS NULL OR topic = t) LIMIT 1 FOR UPDATE;
  END IF;
  IF pick IS NULL THEN
    IF t IS NOT NULL THEN
      SET pick = t;
    ELSE
      -- From one snapshot: a message committed later is later than everything seen here.
      SELECT COUNT(*), MIN(topic) INTO pending, pick FROM Message_queue WHERE receiver_id = r AND read_seq < next_seq;
      IF pending > 1 THEN
        -- Several topics wait: take the oldest; the next oldest bounds the batch.
        SELECT q.topic INTO pick FROM ${HEADS} ORDER BY m.sent_at, q.topic LIMIT 1;
        SELECT MIN(m.sent_at) INTO bound FROM ${HEADS} AND q.topic <> pick;
      END IF;
    END IF;
    SELECT read_seq, next_seq, batch_lo, batch_hi INTO cur, top, lo, hi
      FROM Message_queue WHERE receiver_id = r AND topic = pick FOR UPDATE;
    IF cur IS NOT NULL THEN
      IF lo <= hi THEN
        -- Acknowledge the batch handed out before.
        IF (SELECT keep_history FROM Mailbox WHERE name = r) THEN
          INSERT IGNORE INTO Message_history (receiver_id, topic, message_id, sender_id, data, sent_at, received_at)
            SELECT receiver_id, topic, message_id, sender_id, data, sent_at, NOW(6) FROM Message
             WHERE receiver_id = r AND topic = pick AND message_id BETWEEN lo AND hi;
        END IF;
        DELETE FROM Message WHERE receiver_id = r AND topic = pick AND message_id BETWEEN lo AND hi;
      END IF;
      SET lo = cur + 1;
      SET hi = LEAST(top, cur + n);
      IF bound IS NOT NULL AND lo <= hi THEN
        SELECT COALESCE(MIN(message_id) - 1, hi) INTO hi FROM Message
         WHERE receiver_id = r AND topic = pick AND message_id BETWEEN lo AND hi AND sent_at > bound;
      END IF;
      UPDATE Message_queue SET read_seq = hi, last_request = req, batch_lo = lo, batch_hi = hi, batch_at = NOW(6)
       WHERE receiver_id = r AND topic = pick;
    END IF;
  END IF;
  -- Read while the queue row is locked: no other receive can acknowledge (delete) this batch yet.
  -- more: something else was waiting (this queue had more, or another queue did).
  SELECT message_id, sender_id, topic, data, sent_at, (top > hi OR bound IS NOT NULL) AS more FROM Message
   WHERE receiver_id = r AND topic = pick AND message_id BETWEEN lo AND hi ORDER BY message_id;
  COMMIT;
END`;

export const IPC_OBJECTS: string[] = [...TABLES, SEND, RECV];
