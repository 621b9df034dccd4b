// DDL of inter-process messaging (schema version 3): the paper's Message table
// (section 4.3), partitioned on the receiver, and the mailboxes messages go to.
//
// Sending is one INSERT (a multicast one multi-row INSERT). Receiving is one
// CALL of ipc_recv, which in one transaction marks the oldest waiting
// messages as taken by this receive request and returns them, and deletes
// the batch the receiver's previous request took: that next receive is the
// acknowledgement. A receive retried with the same request id (the answer
// was lost with the connection) returns the same batch: every committed
// message is returned by exactly one receive, never lost, never twice.

const TABLES = [
  `CREATE TABLE IF NOT EXISTS Mailbox (
     name VARBINARY(255) NOT NULL PRIMARY KEY,
     owner VARCHAR(64) NOT NULL,
     p_key INT NOT NULL,
     keep_history BOOLEAN NOT NULL DEFAULT FALSE,
     created_at DATETIME(6) NOT NULL
   ) ENGINE=InnoDB`,
  `CREATE TABLE IF NOT EXISTS Message (
     receiver_id VARBINARY(255) NOT NULL,
     message_id BIGINT NOT NULL AUTO_INCREMENT,
     sender_id VARBINARY(255) NOT NULL,
     topic VARBINARY(255) NOT NULL DEFAULT '',
     data MEDIUMBLOB NOT NULL,
     sent_at DATETIME(6) NOT NULL,
     taken_by BIGINT NULL,
     taken_at DATETIME(6) NULL,
     PRIMARY KEY (receiver_id, message_id),
     KEY by_id (message_id),
     KEY by_topic (receiver_id, topic, message_id)
   ) ENGINE=InnoDB`,
  `CREATE TABLE IF NOT EXISTS Message_history (
     receiver_id VARBINARY(255) NOT NULL,
     message_id BIGINT NOT NULL,
     sender_id VARBINARY(255) NOT NULL,
     topic VARBINARY(255) NOT NULL,
     data MEDIUMBLOB NOT NULL,
     sent_at DATETIME(6) NOT NULL,
     received_at DATETIME(6) NOT NULL,
     PRIMARY KEY (receiver_id, message_id),
     KEY by_time (received_at)
   ) ENGINE=InnoDB`,
];

/**
 * ipc_recv(receiver, topic or NULL for any, at most n, this request, whether
 * it is a retry of a request whose answer was lost, the previous request and
 * the id range of what it took). A batch is the oldest waiting messages, so
 * finding it again reads the first rows of the receiver's range, whatever its
 * backlog.
 */
const RECV = `CREATE OR REPLACE PROCEDURE ipc_recv(IN r VARBINARY(255), IN t VARBINARY(255), IN n INT, IN req BIGINT,
                                            IN retry BOOLEAN, IN prev BIGINT, IN prev_lo BIGINT, IN prev_hi BIGINT)
MODIFIES SQL DATA
BEGIN
  DECLARE EXIT HANDLER FOR SQLEXCEPTION BEGIN ROLLBACK; RESIGNAL; END;
  SET TRANSACTION ISOLATION LEVEL READ COMMITTED;
  START TRANSACTION;
  IF prev IS NOT NULL THEN
    IF (SELECT keep_history FROM Mailbox WHERE name = r) THEN
      INSERT IGNORE INTO Message_history (receiver_id, message_id, sender_id, topic, data, sent_at, received_at)
      SELECT receiver_id, message_id, sender_id, topic, data, sent_at, taken_at FROM Message
       WHERE receiver_id = r AND message_id BETWEEN prev_lo AND prev_hi AND taken_by = prev;
    END IF;
    DELETE FROM Message WHERE receiver_id = r AND message_id BETWEEN prev_lo AND prev_hi AND taken_by = prev;
  END IF;
  IF NOT retry OR NOT EXISTS (SELECT 1 FROM Message WHERE receiver_id = r AND taken_by = req) THEN
    IF t IS NULL THEN
      UPDATE Message SET taken_by = req, taken_at = NOW(6)
       WHERE receiver_id = r AND taken_by IS NULL ORDER BY message_id LIMIT n;
    ELSE
      UPDATE Message FORCE INDEX (by_topic) SET taken_by = req, taken_at = NOW(6)
       WHERE receiver_id = r AND topic = t AND taken_by IS NULL ORDER BY message_id LIMIT n;
    END IF;
  END IF;
  COMMIT;
  SELECT message_id, sender_id, topic, data, sent_at FROM Message
   WHERE receiver_id = r AND taken_by = req ORDER BY message_id LIMIT n;
END`;

export const IPC_OBJECTS: string[] = [...TABLES, RECV];
